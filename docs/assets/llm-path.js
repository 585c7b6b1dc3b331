/* llm-path in the browser: progress, resource filters, flashcards, the week planner.
 * No dependencies, no network beyond this site's own JSON files, state in localStorage.
 * Runs on every page load and on every instant navigation (mkdocs-material's document$). */
(function () {
  "use strict";

  var PROGRESS_KEY = "llm-path:progress";
  var CARDS_KEY = "llm-path:cards";
  var PLAN_KEY = "llm-path:plan";
  var DAY = 86400000;
  var INTERVALS = [0, 1, 3, 7, 14, 30]; /* days until a card is due again, by Leitner box */
  var jsonCache = {};

  /* ---------- small helpers ---------- */

  function siteRoot() {
    var config = document.getElementById("__config");
    var base = config ? JSON.parse(config.textContent).base : ".";
    return new URL(base.replace(/\/?$/, "/"), location.href);
  }

  function fetchJson(path) {
    if (!jsonCache[path]) {
      jsonCache[path] = fetch(new URL(path, siteRoot())).then(function (response) {
        if (!response.ok) throw new Error(path + ": " + response.status);
        return response.json();
      });
    }
    return jsonCache[path];
  }

  function read(key) {
    try {
      var value = JSON.parse(localStorage.getItem(key));
      return value && typeof value === "object" ? value : {};
    } catch (error) {
      return {};
    }
  }

  function write(key, value) {
    localStorage.setItem(key, JSON.stringify(value));
  }

  function el(tag, attributes, children) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      if (name === "text") node.textContent = attributes[name];
      else node.setAttribute(name, attributes[name]);
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function download(name, type, text) {
    var link = el("a", { href: URL.createObjectURL(new Blob([text], { type: type })), download: name });
    document.body.appendChild(link);
    link.click();
    setTimeout(function () {
      URL.revokeObjectURL(link.href);
      link.remove();
    }, 1000);
  }

  /* ---------- progress ---------- */

  function progress() {
    var stored = read(PROGRESS_KEY);
    return { version: 1, done: stored.done && typeof stored.done === "object" ? stored.done : {} };
  }

  function setDone(ids, done) {
    var state = progress();
    ids.forEach(function (id) {
      if (done) state.done[id] = state.done[id] || new Date().toISOString();
      else delete state.done[id];
    });
    write(PROGRESS_KEY, state);
    showProgress();
  }

  function showProgress() {
    var done = progress().done;
    document.querySelectorAll("input[data-done]").forEach(function (box) {
      box.checked = Boolean(done[box.getAttribute("data-done")]);
    });
    document.querySelectorAll(".lp-progress[data-topics]").forEach(function (bar) {
      var topics = bar.getAttribute("data-topics").split(" ").filter(Boolean);
      var count = topics.filter(function (t) { return done["t-" + t]; }).length;
      var meter = bar.querySelector("progress");
      meter.max = topics.length;
      meter.value = count;
      bar.querySelector(".lp-progress-value").textContent = count + " of " + topics.length + " topics done";
      bar.hidden = false;
    });
    document.querySelectorAll("[data-progress-topic]").forEach(function (item) {
      markDone(item, item, Boolean(done[item.getAttribute("data-progress-topic")]));
    });
    markNavigation(done);
  }

  /* A check mark (and, for screen readers, the word "done") on what a learner has finished. */
  function markDone(item, holder, isDone) {
    item.classList.toggle("lp-is-done", isDone);
    var mark = holder.querySelector(":scope > .lp-done-mark");
    if (isDone && !mark) {
      holder.appendChild(el("span", { class: "lp-done-mark" }, [
        el("span", { "aria-hidden": "true", text: "\u2713" }), el("span", { class: "lp-visually-hidden", text: " (done)" })]));
    } else if (!isDone && mark) {
      mark.remove();
    }
  }

  /* The sidebar's links to topic pages show which topics are ticked. */
  function markNavigation(done) {
    var topics = siteRoot().pathname + "topics/";
    document.querySelectorAll(".md-nav--primary a.md-nav__link[href]").forEach(function (link) {
      var path = new URL(link.getAttribute("href"), location.href).pathname;
      if (path.indexOf(topics) !== 0) return;
      var id = path.slice(topics.length).replace(/\/(index\.html)?$/, "");
      markDone(link, link.querySelector(".md-ellipsis") || link, Boolean(done["t-" + id]));
    });
  }

  function setUpProgress() {
    document.querySelectorAll(".lp-done").forEach(function (label) { label.hidden = false; });
    document.querySelectorAll("li.lp-resource[data-resource]").forEach(function (item) {
      if (item.querySelector("input[data-done]")) return;
      var title = item.querySelector(".lp-resource-title");
      var box = el("input", { type: "checkbox", "data-done": item.getAttribute("data-resource") });
      var label = el("label", { class: "lp-resource-done" }, [box, " done"]);
      box.setAttribute("aria-label", "Mark \u201c" + (title ? title.textContent : "this resource") + "\u201d as done");
      item.insertBefore(label, item.firstChild);
    });
    document.querySelectorAll("input[data-done]").forEach(function (box) {
      box.addEventListener("change", function () { setDone([box.getAttribute("data-done")], box.checked); });
    });
    document.querySelectorAll("button[data-mark-known]").forEach(setUpMarkKnown);
    document.querySelectorAll("[data-progress-tools]").forEach(setUpTransfer);
    showProgress();
  }

  /* "Mark these topics as known": ticks a topic's prerequisites, all the way down (the page lists them);
     the same button then undoes exactly what it ticked. */
  function setUpMarkKnown(button) {
    var holder = button.parentNode;
    var status = holder.querySelector("[data-mark-status]");
    var ids = button.getAttribute("data-mark-known").split(" ").filter(Boolean);
    var label = button.textContent;
    var ticked = null;
    holder.hidden = false;
    button.addEventListener("click", function () {
      if (ticked) {
        setDone(ticked, false);
        status.textContent = "Unticked " + plural(ticked.length, "topic") + " again.";
        button.textContent = label;
        ticked = null;
        return;
      }
      var done = progress().done;
      ticked = ids.filter(function (id) { return !done[id]; });
      if (!ticked.length) {
        ticked = null;
        status.textContent = "All of them were already ticked.";
        return;
      }
      setDone(ticked, true);
      status.textContent = "Marked " + plural(ticked.length, "topic") + " as known" +
        (ticked.length < ids.length ? " (the others were already ticked)." : ".");
      button.textContent = "Undo";
    });
  }

  function setUpTransfer(tools) {
    tools.hidden = false;
    tools.querySelector("[data-export]").addEventListener("click", function () {
      var payload = { format: "llm-path-progress", version: 1, exported: new Date().toISOString(),
        progress: progress(), cards: read(CARDS_KEY) };
      download("llm-path-progress.json", "application/json", JSON.stringify(payload, null, 1));
    });
    var input = tools.querySelector("input[type=file]");
    var status = tools.querySelector("[data-transfer-status]");
    input.addEventListener("change", function () {
      var file = input.files[0];
      if (!file) return;
      var fail = function (why) {
        status.textContent = "Could not import " + file.name + ": " + why + " Choose a file made by Export progress.";
      };
      if (file.size > 5e6) return fail("it is too large to be a progress file.");
      file.text().then(function (text) {
        var payload;
        try {
          payload = JSON.parse(text);
        } catch (error) {
          return fail("it is not a JSON file.");
        }
        if (!payload || payload.format !== "llm-path-progress" || !payload.progress ||
            typeof payload.progress.done !== "object" || payload.progress.done === null) {
          return fail("it is not an llm-path progress file.");
        }
        var merged = mergeProgress(payload);
        showProgress();
        status.textContent = "Imported " + file.name + ": " + plural(merged.added, "finished item") + " added (" +
          merged.total + " in all), " + plural(merged.updated, "flashcard schedule") + " updated; nothing was removed.";
      }, function () {
        fail("the browser could not read it.");
      });
      input.value = ""; /* the same file can be chosen again */
    });
  }

  /* Import adds to what this browser has, never replaces it: a finished item keeps its earliest date,
     a flashcard the schedule of its latest review. */
  function mergeProgress(payload) {
    var state = progress();
    var added = 0;
    Object.keys(payload.progress.done).forEach(function (id) {
      var when = payload.progress.done[id];
      if (typeof when !== "string" || id === "__proto__") return;
      if (!state.done[id]) added += 1;
      if (!state.done[id] || when < state.done[id]) state.done[id] = when;
    });
    write(PROGRESS_KEY, state);
    var cards = read(CARDS_KEY);
    var incoming = payload.cards && typeof payload.cards === "object" ? payload.cards : {};
    var updated = 0;
    Object.keys(incoming).forEach(function (id) {
      var card = incoming[id];
      if (!card || typeof card.due !== "number" || typeof card.box !== "number" || id === "__proto__") return;
      if (!cards[id] || String(card.seen || "") > String(cards[id].seen || "")) {
        cards[id] = { box: card.box, due: card.due, seen: card.seen };
        updated += 1;
      }
    });
    write(CARDS_KEY, cards);
    return { added: added, total: Object.keys(state.done).length, updated: updated };
  }

  function plural(n, noun) {
    return n + " " + noun + (n === 1 ? "" : "s");
  }

  /* ---------- resource filters (state in the URL query) ---------- */

  var FILTERS = [["type", "Type"], ["level", "Level"], ["price", "Price"]];

  function resourceValue(item, name) {
    return item.getAttribute(name === "price" ? "data-free" : "data-" + name);
  }

  function setUpFilters() {
    var holder = document.querySelector("[data-filters]");
    var items = Array.prototype.slice.call(document.querySelectorAll("li.lp-resource"));
    if (!holder || !items.length || holder.childElementCount) return;
    var params = new URLSearchParams(location.search);
    var form = el("form", { class: "lp-filter-form", role: "search", "aria-label": "Filter resources" });
    FILTERS.forEach(function (pair) {
      var values = [];
      items.forEach(function (item) {
        var value = resourceValue(item, pair[0]);
        if (values.indexOf(value) < 0) values.push(value);
      });
      values.sort();
      var select = el("select", { name: pair[0] }, [el("option", { value: "", text: "any" })]);
      values.forEach(function (value) { select.appendChild(el("option", { value: value, text: value })); });
      if (values.indexOf(params.get(pair[0])) >= 0) select.value = params.get(pair[0]);
      form.appendChild(el("label", {}, [pair[1] + " ", select]));
    });
    var reset = el("button", { type: "button", class: "lp-link-button lp-filter-reset", text: "Reset filters" });
    form.appendChild(reset);
    var count = el("output", { class: "lp-filter-count", "aria-live": "polite" });
    form.appendChild(count);
    var showAll = el("button", { type: "button", class: "lp-link-button", text: "Show all resources" });
    var empty = el("p", { class: "lp-filter-empty", hidden: "" }, ["No resources match these filters. ", showAll]);
    holder.appendChild(form);
    holder.appendChild(empty);
    holder.hidden = false;
    var view = { form: form, items: items, count: count, empty: empty, reset: reset, holder: holder };
    form.addEventListener("change", function () { applyFilters(view, true); });
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    [reset, showAll].forEach(function (button) {
      button.addEventListener("click", function () {
        FILTERS.forEach(function (pair) { form.elements[pair[0]].value = ""; });
        applyFilters(view, true);
        form.elements[FILTERS[0][0]].focus();
      });
    });
    applyFilters(view, false);
  }

  /* Headings whose resources are all filtered out go too: a topic's, then a phase's (on the resources page),
     but never the section holding the filter itself. */
  function hideEmptySections(holder) {
    document.querySelectorAll("ul.lp-resources").forEach(function (list) {
      var empty = !list.querySelector("li.lp-resource:not([hidden])");
      list.hidden = empty;
      var heading = list.previousElementSibling;
      if (heading && /^H[34]$/.test(heading.tagName)) heading.hidden = empty;
    });
    document.querySelectorAll(".md-content article h2").forEach(function (heading) {
      var lists = 0;
      var shown = 0;
      var node = heading.nextElementSibling;
      while (node && node.tagName !== "H2" && node.tagName !== "H1") {
        if (node === holder || node.contains(holder)) return;
        if (node.matches("ul.lp-resources")) {
          lists += 1;
          if (!node.hidden) shown += 1;
        }
        node = node.nextElementSibling;
      }
      if (lists) heading.hidden = !shown;
    });
  }

  function applyFilters(view, updateUrl) {
    var form = view.form;
    var items = view.items;
    var count = view.count;
    var chosen = {};
    FILTERS.forEach(function (pair) { chosen[pair[0]] = form.elements[pair[0]].value; });
    var shown = 0;
    items.forEach(function (item) {
      var match = FILTERS.every(function (pair) {
        return !chosen[pair[0]] || resourceValue(item, pair[0]) === chosen[pair[0]];
      });
      item.hidden = !match;
      if (match) shown += 1;
    });
    hideEmptySections(view.holder);
    count.textContent = "Showing " + shown + " of " + items.length + " resources";
    view.empty.hidden = shown > 0;
    view.reset.hidden = !FILTERS.some(function (pair) { return chosen[pair[0]]; });
    if (updateUrl) {
      var params = new URLSearchParams(location.search);
      FILTERS.forEach(function (pair) {
        if (chosen[pair[0]]) params.set(pair[0], chosen[pair[0]]);
        else params.delete(pair[0]);
      });
      var query = params.toString();
      history.replaceState(history.state, "", location.pathname + (query ? "?" + query : "") + location.hash);
    }
  }

  /* ---------- flashcards (Leitner boxes in localStorage) ---------- */

  function today() {
    var now = new Date();
    return Date.UTC(now.getFullYear(), now.getMonth(), now.getDate());
  }

  function setUpDrills() {
    document.querySelectorAll("[data-drill]").forEach(function (holder) {
      if (holder.childElementCount) return;
      var topics = holder.getAttribute("data-topics").split(" ");
      fetchJson("data/cards.json").then(function (all) {
        var cards = all.filter(function (card) { return topics.indexOf(card.topic) >= 0; });
        if (!cards.length) return;
        holder.hidden = false;
        var state = read(CARDS_KEY);
        var due = cards.filter(function (card) { return !state[card.id] || state[card.id].due <= today(); });
        var start = el("button", { type: "button", class: "md-button md-button--primary",
          text: "Drill " + cards.length + (cards.length === 1 ? " question" : " questions") + " (" + due.length + " due)" });
        holder.appendChild(start);
        start.addEventListener("click", function () { drill(holder, cards); });
      });
    });
  }

  function drill(holder, cards) {
    var state = read(CARDS_KEY);
    var now = today();
    var queue = cards.filter(function (card) { return !state[card.id] || state[card.id].due <= now; });
    queue.sort(function (a, b) { return ((state[a.id] || {}).due || 0) - ((state[b.id] || {}).due || 0); });
    if (!queue.length) queue = cards.slice();
    var knew = 0;
    var again = 0;
    holder.textContent = "";
    var position = el("p", { class: "lp-card-position" });
    var question = el("p", { class: "lp-card-question", tabindex: "-1" });
    var answer = el("p", { class: "lp-card-answer", hidden: "" });
    var reveal = el("button", { type: "button", class: "md-button", text: "Show answer" });
    var knewButton = el("button", { type: "button", class: "md-button md-button--primary", text: "Knew it", hidden: "" });
    var againButton = el("button", { type: "button", class: "md-button", text: "Again", hidden: "" });
    var card = el("div", { class: "lp-card", role: "group", "aria-label": "Flashcard" },
      [position, question, answer, el("p", {}, [reveal, " ", knewButton, " ", againButton])]);
    holder.appendChild(card);

    function show() {
      if (!queue.length) {
        holder.textContent = "";
        var next = cards.map(function (c) { return (read(CARDS_KEY)[c.id] || {}).due; }).filter(Boolean).sort()[0];
        holder.appendChild(el("p", { class: "lp-card-done", tabindex: "-1",
          text: "Done: " + knew + " knew it, " + again + " again." +
            (next ? " Next due " + new Date(next).toISOString().slice(0, 10) + "." : "") }));
        holder.firstChild.focus();
        return;
      }
      var current = queue[0];
      position.textContent = current.topic_title + " \u00b7 " + queue.length + " left";
      // Sanitised at build time (prose.py): only emphasis, code, http(s) links and MathML.
      question.innerHTML = current.question_html;
      answer.innerHTML = current.answer_html;
      answer.hidden = true;
      reveal.hidden = false;
      knewButton.hidden = true;
      againButton.hidden = true;
      question.focus();
    }

    function grade(ok) {
      var current = queue.shift();
      var all = read(CARDS_KEY);
      var box = ok ? Math.min(((all[current.id] || {}).box || 0) + 1, INTERVALS.length - 1) : 0;
      all[current.id] = { box: box, due: today() + INTERVALS[box] * DAY, seen: new Date().toISOString() };
      write(CARDS_KEY, all);
      if (ok) knew += 1;
      else {
        again += 1;
        queue.push(current);
      }
      show();
    }

    reveal.addEventListener("click", function () {
      answer.hidden = false;
      reveal.hidden = true;
      knewButton.hidden = false;
      againButton.hidden = false;
      knewButton.focus();
    });
    knewButton.addEventListener("click", function () { grade(true); });
    againButton.addEventListener("click", function () { grade(false); });
    show();
  }

  /* ---------- the week planner: the same algorithm as src/llm_path/learner/plan.py ---------- */

  function isoDay(ms) {
    return new Date(ms).toISOString().slice(0, 10);
  }

  function schedule(data, trackId, startIso, hoursPerWeek) {
    var track = data.tracks.filter(function (t) { return t.id === trackId; })[0];
    var parts = startIso.split("-").map(Number);
    var start = Date.UTC(parts[0], parts[1] - 1, parts[2]);
    var weeks = [];
    var weekIndex = 0;
    var used = 0;
    track.topics.forEach(function (topicId) {
      var topic = data.topics[topicId];
      var hours = topic.hours;
      var startWeek = weekIndex;
      var startUsed = used;
      var remaining = hours;
      while (remaining > 0) {
        while (weeks.length <= weekIndex) {
          var first = start + 7 * weeks.length * DAY;
          weeks.push({ week: weeks.length + 1, start: isoDay(first), end: isoDay(first + 6 * DAY),
            topics: [], resources: [], notebooks: [] });
        }
        var take = Math.min(remaining, hoursPerWeek - used);
        weeks[weekIndex].topics.push([topicId, take]);
        remaining -= take;
        used += take;
        if (used === hoursPerWeek) {
          weekIndex += 1;
          used = 0;
        }
      }
      var count = topic.resources.length;
      topic.resources.forEach(function (resource, i) {
        var offset = Math.floor(((2 * i + 1) * hours) / (2 * count));
        weeks[startWeek + Math.floor((startUsed + offset) / hoursPerWeek)].resources.push(resource.id);
      });
      if (topic.notebook) {
        weeks[startWeek + Math.floor((startUsed + hours - 1) / hoursPerWeek)].notebooks.push(topicId);
      }
    });
    return weeks;
  }

  function icsText(text) {
    return text.replace(/\\/g, "\\\\").replace(/;/g, "\\;").replace(/,/g, "\\,").replace(/\n/g, "\\n");
  }

  function icsFold(line) {
    var out = [];
    var current = "";
    var size = 0;
    var encoder = new TextEncoder();
    Array.from(line).forEach(function (char) {
      var length = encoder.encode(char).length;
      if (size + length > (out.length ? 74 : 75)) {
        out.push(current);
        current = "";
        size = 0;
      }
      current += char;
      size += length;
    });
    out.push(current);
    return out.join("\r\n ");
  }

  function planIcs(data, trackId, weeks) {
    var titles = {};
    Object.keys(data.topics).forEach(function (id) {
      data.topics[id].resources.forEach(function (r) { titles[r.id] = r.title; });
    });
    var stamp = new Date().toISOString().replace(/[-:]/g, "").slice(0, 15) + "Z";
    var lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//llm-path//plan//EN", "CALSCALE:GREGORIAN"];
    weeks.forEach(function (week) {
      var names = week.topics.map(function (t) { return data.topics[t[0]].title; });
      var details = week.topics.map(function (t) { return data.topics[t[0]].title + ": " + t[1] + " h"; })
        .concat(week.resources.map(function (r) { return "Resource: " + titles[r]; }))
        .concat(week.notebooks.map(function (t) { return "Notebook: " + data.topics[t].title; }));
      var endExclusive = isoDay(Date.parse(week.end + "T00:00:00Z") + DAY);
      lines.push("BEGIN:VEVENT",
        "UID:llm-path-" + trackId + "-" + week.start.replace(/-/g, "") + "-week-" + week.week + "@llm-path",
        "DTSTAMP:" + stamp,
        "DTSTART;VALUE=DATE:" + week.start.replace(/-/g, ""),
        "DTEND;VALUE=DATE:" + endExclusive.replace(/-/g, ""),
        "SUMMARY:" + icsText("LLM path week " + week.week + ": " + names.join(", ")),
        "DESCRIPTION:" + icsText(details.join("\n")),
        "END:VEVENT");
    });
    lines.push("END:VCALENDAR");
    return lines.map(function (line) { return icsFold(line) + "\r\n"; }).join("");
  }

  function nextMonday() {
    var now = new Date();
    var day = Date.UTC(now.getFullYear(), now.getMonth(), now.getDate());
    var weekday = new Date(day).getUTCDay();
    return isoDay(day + ((8 - weekday) % 7 || 7) * DAY);
  }

  function setUpPlanner() {
    var form = document.querySelector("[data-plan-form]");
    if (!form || form.getAttribute("data-ready")) return;
    form.setAttribute("data-ready", "1");
    form.hidden = false;
    var saved = read(PLAN_KEY);
    if (saved.track) form.elements.track.value = saved.track;
    form.elements.start.value = saved.start || nextMonday();
    if (saved.hours) form.elements.hours.value = saved.hours;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      makePlan(form);
    });
    if (saved.track) makePlan(form);
  }

  function makePlan(form) {
    var track = form.elements.track.value;
    var start = form.elements.start.value;
    var hours = parseInt(form.elements.hours.value, 10);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(start) || !(hours >= 1)) return;
    write(PLAN_KEY, { track: track, start: start, hours: hours });
    fetchJson("data/plan.json").then(function (data) {
      var weeks = schedule(data, track, start, hours);
      renderPlan(data, track, weeks, hours);
    });
  }

  function renderPlan(data, trackId, weeks, hoursPerWeek) {
    var root = siteRoot();
    var output = document.querySelector("[data-plan-output]");
    var done = progress().done;
    var resources = {};
    Object.keys(data.topics).forEach(function (id) {
      data.topics[id].resources.forEach(function (r) { resources[r.id] = r; });
    });
    output.textContent = "";
    output.setAttribute("data-plan-json", JSON.stringify(weeks));
    var headings = ["Week", "Dates", "Topics", "Resources", "Notebook"];
    var table = el("table");
    table.appendChild(el("thead", {}, [el("tr", {}, headings.map(function (h) {
      return el("th", { scope: "col", text: h });
    }))]));
    function cell(column, items) {
      var td = el("td", { "data-label": headings[column] });
      if (typeof items === "string") td.textContent = items;
      else if (items.length) td.appendChild(el("ul", { class: "lp-plan-list" }, items.map(function (item) { return el("li", {}, item); })));
      return td;
    }
    var body = el("tbody");
    weeks.forEach(function (week) {
      var topics = week.topics.map(function (pair) {
        var topic = data.topics[pair[0]];
        return [el("a", { href: new URL(topic.page, root).href, text: topic.title }),
          " (" + pair[1] + " h)" + (done["t-" + pair[0]] ? " \u2713" : "")];
      });
      var links = week.resources.map(function (id) {
        return [el("a", { href: resources[id].url, text: resources[id].title })];
      });
      var notebooks = week.notebooks.map(function (id) {
        return [el("a", { href: new URL(data.topics[id].notebook, root).href, text: data.topics[id].title })];
      });
      body.appendChild(el("tr", {}, [cell(0, String(week.week)), cell(1, week.start + " to " + week.end),
        cell(2, topics), cell(3, links), cell(4, notebooks)]));
    });
    table.appendChild(body);
    output.appendChild(el("div", { class: "md-typeset__scrollwrap lp-plan" }, [el("div", { class: "md-typeset__table" }, [table])]));
    var track = data.tracks.filter(function (t) { return t.id === trackId; })[0];
    document.querySelector("[data-plan-summary]").textContent = track.title + ", " + track.hours + " hours: " +
      weeks.length + (weeks.length === 1 ? " week" : " weeks") + " at " + hoursPerWeek + " hours a week, from " +
      weeks[0].start + " to " + weeks[weeks.length - 1].end + ".";
    var actions = document.querySelector("[data-plan-actions]");
    actions.hidden = false;
    var button = actions.querySelector("[data-plan-ics]");
    button.onclick = function () {
      download("llm-path-" + trackId + "-" + weeks[0].start + ".ics", "text/calendar", planIcs(data, trackId, weeks));
    };
  }

  /* ---------- diagrams: Mermaid from this site, loaded only where a page has one ---------- */

  var mermaidLoading = null;

  function setUpDiagrams() {
    var blocks = document.querySelectorAll("pre.lp-mermaid");
    if (!blocks.length) return;
    if (!mermaidLoading) {
      mermaidLoading = new Promise(function (resolve, reject) {
        var script = el("script", { src: new URL("assets/vendor/mermaid.min.js", siteRoot()).href });
        script.onload = resolve;
        script.onerror = reject;
        document.head.appendChild(script);
      });
    }
    var nodes = Array.prototype.map.call(blocks, function (block) {
      var diagram = el("div", { class: "lp-mermaid-diagram", text: block.textContent });
      block.replaceWith(diagram);
      return diagram;
    });
    mermaidLoading.then(function () {
      var dark = document.body.getAttribute("data-md-color-scheme") === "slate";
      window.mermaid.initialize({ startOnLoad: false, theme: dark ? "dark" : "default", securityLevel: "strict" });
      return window.mermaid.run({ nodes: nodes });
    });
  }

  /* ---------- glossary tips: kept inside the viewport when shown, closed by Escape ---------- */

  var TIP_MARGIN = 12; /* px between a tip and the viewport's edge */

  function placeTip(wrap) {
    var tip = wrap.querySelector(".lp-tip");
    if (!tip) return;
    tip.style.left = "0px";
    var width = document.documentElement.clientWidth;
    var box = tip.getBoundingClientRect();
    if (!box.width) return; /* not shown */
    var shift = Math.min(0, width - TIP_MARGIN - box.right);
    shift = Math.max(shift, TIP_MARGIN - box.left);
    tip.style.left = shift + "px";
  }

  function setUpTips() {
    document.addEventListener("focusin", function (event) {
      var wrap = event.target.closest && event.target.closest(".lp-term-wrap");
      if (wrap) {
        wrap.classList.remove("lp-tip-dismissed");
        placeTip(wrap);
      }
    });
    document.addEventListener("mouseover", function (event) {
      var wrap = event.target.closest && event.target.closest(".lp-term-wrap");
      if (wrap && !wrap.contains(event.relatedTarget)) {
        wrap.classList.remove("lp-tip-dismissed");
        placeTip(wrap);
      }
    });
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape") return;
      document.querySelectorAll(".lp-term-wrap").forEach(function (wrap) {
        if (wrap.matches(":hover") || wrap.contains(document.activeElement)) wrap.classList.add("lp-tip-dismissed");
      });
    });
  }

  /* ---------- search results: every link highlights what was searched ---------- */

  /* The theme links a page whose own text did not match (only its sections did) with an empty ?h=, so the
     page opens with nothing highlighted: give it the words its sections matched, or the query's. */
  var observedResults = [];

  function fillHighlight(item) {
    var links = item.querySelectorAll("a.md-search-result__link");
    var words = [];
    links.forEach(function (link) {
      (new URL(link.href).searchParams.get("h") || "").split(" ").forEach(function (word) {
        if (word && words.indexOf(word) < 0) words.push(word);
      });
    });
    if (!words.length) {
      var input = document.querySelector(".md-search__input");
      words = (input ? input.value : "").toLowerCase().split(/[\s\-]+/).filter(Boolean);
    }
    links.forEach(function (link) {
      var url = new URL(link.href);
      if (!url.searchParams.has("h") || url.searchParams.get("h")) return;
      if (words.length) url.searchParams.set("h", words.join(" "));
      else url.searchParams.delete("h");
      link.href = url.href;
    });
  }

  function setUpSearchLinks() {
    var list = document.querySelector(".md-search-result__list");
    if (!list || observedResults.indexOf(list) >= 0) return;
    observedResults.push(list);
    new MutationObserver(function (changes) {
      changes.forEach(function (change) {
        change.addedNodes.forEach(function (node) { if (node.nodeType === 1) fillHighlight(node); });
      });
    }).observe(list, { childList: true });
  }

  /* ---------- what is wider than its column scrolls in its own box: let a keyboard reach it ---------- */

  /* Maths (llm-path.css) and tables (the theme's scroll wrapper, notebook tables included) that overflow
     become focusable, so they can be scrolled without a mouse (axe: scrollable-region-focusable). */
  function setUpWideBoxes() {
    document.querySelectorAll(".md-typeset math:not([tabindex]), .md-typeset__scrollwrap:not([tabindex])").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth + 1) box.tabIndex = 0;
    });
  }

  /* ---------- start ---------- */

  function init() {
    setUpProgress();
    setUpFilters();
    setUpDrills();
    setUpPlanner();
    setUpDiagrams();
    setUpWideBoxes();
    setUpSearchLinks();
  }

  window.llmPath = { schedule: schedule, planIcs: planIcs };
  setUpTips(); /* listens on the document, which outlives instant navigation: once per load */
  if (window.document$ && typeof window.document$.subscribe === "function") {
    window.document$.subscribe(init);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
