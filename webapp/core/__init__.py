"""Pages and endpoints that belong to no domain noun: the home page and the health check."""
