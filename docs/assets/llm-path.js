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
    document.querySelectorAll("button[data-mark-before]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        fetchJson("data/plan.json").then(function (data) {
          var index = data.order.indexOf(button.getAttribute("data-mark-before"));
          var before = index > 0 ? data.order.slice(0, index) : [];
          setDone(before.map(function (t) { return "t-" + t; }), true);
          button.textContent = "Marked " + before.length + " earlier topics as known";
        });
      });
    });
    document.querySelectorAll("[data-progress-tools]").forEach(setUpTransfer);
    showProgress();
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
      file.text().then(function (text) {
        var payload = JSON.parse(text);
        if (payload.format !== "llm-path-progress" || !payload.progress || typeof payload.progress.done !== "object") {
          throw new Error("not an llm-path progress file");
        }
        write(PROGRESS_KEY, { version: 1, done: payload.progress.done });
        write(CARDS_KEY, payload.cards && typeof payload.cards === "object" ? payload.cards : {});
        showProgress();
        status.textContent = "Imported " + Object.keys(payload.progress.done).length + " finished items.";
      }).catch(function (error) {
        status.textContent = "Could not import " + file.name + ": " + error.message + ".";
      });
    });
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
    var count = el("output", { class: "lp-filter-count", "aria-live": "polite" });
    form.appendChild(count);
    holder.appendChild(form);
    holder.hidden = false;
    form.addEventListener("change", function () { applyFilters(form, items, count, true); });
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    applyFilters(form, items, count, false);
  }

  function applyFilters(form, items, count, updateUrl) {
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
    document.querySelectorAll("ul.lp-resources").forEach(function (list) {
      var empty = !list.querySelector("li.lp-resource:not([hidden])");
      list.hidden = empty;
      var heading = list.previousElementSibling;
      if (heading && /^H[34]$/.test(heading.tagName)) heading.hidden = empty;
    });
    count.textContent = "Showing " + shown + " of " + items.length + " resources";
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
      renderPlan(data, track, weeks);
    });
  }

  function renderPlan(data, trackId, weeks) {
    var root = siteRoot();
    var output = document.querySelector("[data-plan-output]");
    var done = progress().done;
    var resources = {};
    Object.keys(data.topics).forEach(function (id) {
      data.topics[id].resources.forEach(function (r) { resources[r.id] = r; });
    });
    output.textContent = "";
    output.setAttribute("data-plan-json", JSON.stringify(weeks));
    var table = el("table", { class: "lp-plan-table" });
    table.appendChild(el("thead", {}, [el("tr", {}, ["Week", "Dates", "Topics", "Resources", "Notebook"].map(function (h) {
      return el("th", { scope: "col", text: h });
    }))]));
    var body = el("tbody");
    weeks.forEach(function (week) {
      var topics = el("td");
      week.topics.forEach(function (pair, i) {
        var topic = data.topics[pair[0]];
        if (i) topics.appendChild(el("br"));
        topics.appendChild(el("a", { href: new URL(topic.page, root).href, text: topic.title }));
        topics.appendChild(document.createTextNode(" (" + pair[1] + " h)" + (done["t-" + pair[0]] ? " \u2713" : "")));
      });
      var links = el("td");
      week.resources.forEach(function (id, i) {
        if (i) links.appendChild(el("br"));
        links.appendChild(el("a", { href: resources[id].url, text: resources[id].title }));
      });
      var notebooks = el("td");
      week.notebooks.forEach(function (id, i) {
        if (i) notebooks.appendChild(el("br"));
        notebooks.appendChild(el("a", { href: new URL(data.topics[id].notebook, root).href, text: data.topics[id].title }));
      });
      body.appendChild(el("tr", {}, [el("td", { text: String(week.week) }),
        el("td", { text: week.start + " to " + week.end }), topics, links, notebooks]));
    });
    table.appendChild(body);
    output.appendChild(el("div", { class: "md-typeset__scrollwrap" }, [el("div", { class: "md-typeset__table" }, [table])]));
    var track = data.tracks.filter(function (t) { return t.id === trackId; })[0];
    document.querySelector("[data-plan-summary]").textContent = track.title + ": " + weeks.length +
      " weeks, from " + weeks[0].start + " to " + weeks[weeks.length - 1].end + ".";
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

  /* ---------- start ---------- */

  function init() {
    setUpProgress();
    setUpFilters();
    setUpDrills();
    setUpPlanner();
    setUpDiagrams();
  }

  window.llmPath = { schedule: schedule, planIcs: planIcs };
  if (window.document$ && typeof window.document$.subscribe === "function") {
    window.document$.subscribe(init);
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
