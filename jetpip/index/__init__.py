"""Reading indexes: pip configuration, the HTTP transport, the cache, pages, metadata and the client."""
