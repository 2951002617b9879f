"""Files in and out: the CSV encoding and the other download formats, each table's frame, a session's
prepared export files, and reading an uploaded intents file."""
