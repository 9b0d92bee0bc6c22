"""Real PostgreSQL clusters as the broker's instances: clusters, WAL archive and point-in-time restore, roles."""
