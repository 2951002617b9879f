"""Everything that is not a widget: store, validation, auth, caching, charts, export."""
