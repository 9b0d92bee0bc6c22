"""An RDS-broker-like service broker (paas-rds-broker rules and state machine, no HTTP)."""
