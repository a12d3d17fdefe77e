"""Engine layer: expand specs into resources, plan (pure), apply (graph walk). Talks to the live estate
only through providers; never prints."""
