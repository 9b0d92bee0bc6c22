terraform {
  required_providers {
    cloudfoundry = {
      source = "cloudfoundry-community/cloudfoundry"
    }
  }
}

locals {
  # The broker's create parameters: the point-in-time restore ones only when a restore is asked for.
  postgres_params = merge(
    { enable_extensions = var.postgres_extensions },
    var.restore_db_from_db_instance == "" ? {} : { restore_from_point_in_time_of = var.restore_db_from_db_instance },
    var.restore_db_from_point_in_time_before == "" ? {} : {
      restore_from_point_in_time_before = var.restore_db_from_point_in_time_before
    },
  )
  # The apps read the database from the key's credentials, so a new instance means new keys and an app redeploy.
  app_environment = {
    DATABASE_URL = cloudfoundry_service_key.postgres-key-13.credentials["uri"]
  }
  apps = compact([var.web_app_name, var.worker_app_name])
}

resource "cloudfoundry_service_instance" "postgres_instance_13" {
  name         = var.postgres_service_name
  space        = data.cloudfoundry_space.space.id
  service_plan = data.cloudfoundry_service.postgres.service_plans[var.postgres_service_plan]
  json_params  = jsonencode(local.postgres_params)
  timeouts {
    create = "30m"
    delete = "30m"
    update = "30m"
  }
}

# A copy of the database for analysis, as in the team's configuration (none by default).
resource "cloudfoundry_service_instance" "postgres_snapshot" {
  count        = var.snapshot_databases_to_deploy
  name         = "${var.postgres_service_name}-snapshot"
  space        = data.cloudfoundry_space.space.id
  service_plan = data.cloudfoundry_service.postgres.service_plans[var.postgres_service_plan]
  json_params  = jsonencode({ enable_extensions = var.postgres_extensions })
}

resource "cloudfoundry_service_key" "postgres-key-13" {
  name             = var.postgres_service_name
  service_instance = cloudfoundry_service_instance.postgres_instance_13.id
}

resource "cloudfoundry_service_key" "postgres-blazer-key-13" {
  name             = "${var.postgres_service_name}-blazer"
  service_instance = cloudfoundry_service_instance.postgres_instance_13.id
}

resource "cloudfoundry_route" "web_app_route" {
  domain   = data.cloudfoundry_domain.cloudapps_digital.id
  space    = data.cloudfoundry_space.space.id
  hostname = var.web_app_name
}

resource "cloudfoundry_app" "web_app" {
  name                       = var.web_app_name
  space                      = data.cloudfoundry_space.space.id
  docker_image               = var.app_docker_image
  health_check_type          = "http"
  health_check_http_endpoint = "/ping"
  strategy                   = "blue-green-v2"
  environment                = local.app_environment

  routes {
    route = cloudfoundry_route.web_app_route.id
  }
}

resource "cloudfoundry_app" "worker_app" {
  count = var.worker_app_name == "" ? 0 : 1

  name              = var.worker_app_name
  space             = data.cloudfoundry_space.space.id
  docker_image      = var.app_docker_image
  health_check_type = "process"
  strategy          = "blue-green-v2"
  environment       = local.app_environment
}
