"""HTTP routes of the Cloud Controller, one module per resource."""
