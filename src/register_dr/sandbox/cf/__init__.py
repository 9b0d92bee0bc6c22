"""Cloud Foundry v3 Cloud Controller: resources and their rules (models), HTTP routes, errors, fault injection."""
