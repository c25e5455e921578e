"""PostgreSQL plumbing: the embedded server, connections and schema migrations."""
