"""The site's one inbox: every kind of notice is a Note row (the seed post's ``note`` app)."""
