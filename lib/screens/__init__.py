"""What the screens show, apart from data access: widgets and view controls, charts, number and date
formats, the view in the URL, the intents grid and its import preview, intent checks, the History panel
and billing's wording."""
