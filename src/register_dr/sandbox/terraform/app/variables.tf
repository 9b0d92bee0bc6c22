variable "paas_cf_org" {
  type    = string
  default = "dfe"
}
variable "paas_cf_space" { type = string }
variable "paas_cf_domain" {
  type    = string
  default = "london.cloudapps.digital"
}
variable "paas_docker_image" {
  type        = string
  description = "ghcr.io/dfe-digital/register-trainee-teachers:<tag>: the image the apps run"
}
variable "paas_web_app_name" { type = string }
variable "paas_worker_app_name" {
  type    = string
  default = ""
}
variable "paas_postgres_service_name" { type = string }
variable "paas_postgres_service_plan" { type = string }
variable "paas_postgres_extensions" {
  type    = list(string)
  default = ["pgcrypto", "btree_gist"]
}
# A point-in-time restore: set both (or only the first, for the latest restorable time) when recreating the database.
variable "paas_restore_db_from_db_instance" {
  type    = string
  default = ""
}
variable "paas_restore_db_from_point_in_time_before" {
  type    = string
  default = ""
}
variable "paas_snapshot_databases_to_deploy" {
  type    = number
  default = 0
}
