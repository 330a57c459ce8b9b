"""Call records: what happened on every call, kept in SQLite (one node) or PostgreSQL (several).

The bridge hands records over without waiting (`writer.RecordWriter`); a background task
persists them, so a slow or absent database never touches the audio path. `CallRecords`
(`recorder.py`) is what the web layer holds: it turns calls into records and reads them back.
"""
