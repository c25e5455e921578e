"""Software-defined assets: the event tables (ingestion) and the sales analytics built on them."""
