"""Maintenance mode on: the route answers from the maintenance app only."""


def hosts(host, app):
    found = host.ansible("register.dr.cf_app_info", f"name={app} space=bat-prod")
    return {route["host"] for route in found["routes"]}


def test_route_goes_to_the_maintenance_app(host):
    assert "register-molecule-maintenance" in hosts(host, "register-worker-production")


def test_route_left_the_service_app(host):
    assert "register-molecule-maintenance" not in hosts(host, "register-production")
    assert "register-production" in hosts(host, "register-production")
