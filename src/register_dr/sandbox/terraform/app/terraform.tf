# The sandbox's copy of the team's terraform/app: the database, its two keys, the apps and their route, all in
# module "paas", at the addresses the runbook names (module.paas.cloudfoundry_service_instance.postgres_instance_13).
# One configuration for every environment: workspace_variables/<env>.tfvars.json holds what differs, the state blob
# (resource group, storage account, container, key) comes from `terraform init -backend-config=...`, the image from
# -var paas_docker_image=...
terraform {
  required_version = ">= 1.5.0"
  required_providers {
    cloudfoundry = {
      source  = "cloudfoundry-community/cloudfoundry"
      version = "0.53.1"
    }
  }
  backend "azurerm" {}
}

# api_url, user and password come from CF_API_URL, CF_USER and CF_PASSWORD, as the community provider reads them.
provider "cloudfoundry" {}

module "paas" {
  source = "./modules/paas"

  cf_org                             = var.paas_cf_org
  cf_space                           = var.paas_cf_space
  cf_domain                          = var.paas_cf_domain
  app_docker_image                   = var.paas_docker_image
  web_app_name                       = var.paas_web_app_name
  worker_app_name                    = var.paas_worker_app_name
  postgres_service_name              = var.paas_postgres_service_name
  postgres_service_plan              = var.paas_postgres_service_plan
  postgres_extensions                = var.paas_postgres_extensions
  restore_db_from_db_instance        = var.paas_restore_db_from_db_instance
  restore_db_from_point_in_time_before = var.paas_restore_db_from_point_in_time_before
  snapshot_databases_to_deploy       = var.paas_snapshot_databases_to_deploy
}
