data "cloudfoundry_org" "org" {
  name = var.cf_org
}

data "cloudfoundry_space" "space" {
  name = var.cf_space
  org  = data.cloudfoundry_org.org.id
}

data "cloudfoundry_service" "postgres" {
  name = "postgres"
}

data "cloudfoundry_domain" "cloudapps_digital" {
  name = var.cf_domain
}
