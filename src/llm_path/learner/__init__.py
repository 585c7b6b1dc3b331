"""What learners take away from the site: the week planner and the flashcards."""
