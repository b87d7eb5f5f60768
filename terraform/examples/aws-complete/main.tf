# A complete Stratus deployment in an existing VPC: storage, FoundationDB,
# gateways behind a Network Load Balancer, the compactor, and optionally one
# trigger function. See terraform/README.md.

data "aws_subnet" "private" {
  for_each = toset(var.private_subnet_ids)
  id       = each.value
}

locals {
  # Availability zone name => its private subnets and zone id.
  zones = {
    for az in distinct([for s in data.aws_subnet.private : s.availability_zone]) : az => {
      subnet_ids = [for s in data.aws_subnet.private : s.id if s.availability_zone == az]
      zone_id    = one(distinct([for s in data.aws_subnet.private : s.availability_zone_id if s.availability_zone == az]))
    }
  }

  # Zone ids in the order the subnets were given; the first zone's WAL bucket
  # is the one every gateway uses unless wal_per_zone is set.
  wal_zone_ids = distinct([for id in var.private_subnet_ids : data.aws_subnet.private[id].availability_zone_id])

  # Stratus records a WAL object by key only, so every gateway and the
  # compactor must use the same WAL bucket until gateways can read other
  # zones' buckets; wal_per_zone opts into zonal writes for such a version.
  gateway_zones = {
    for az, z in local.zones : az => {
      subnet_ids = z.subnet_ids
      wal_url    = var.wal_per_zone && var.wal_tier == "express" ? module.storage.wal_urls[z.zone_id] : module.storage.wal_default_url
    }
  }

  # One FoundationDB subnet per zone, so replicas land in different zones.
  fdb_subnet_ids = [for az, z in local.zones : z.subnet_ids[0]]
}

module "storage" {
  source = "../../modules/storage"

  name          = var.name
  wal_tier      = var.wal_tier
  wal_zone_ids  = local.wal_zone_ids
  force_destroy = var.force_destroy
}

module "foundationdb" {
  source = "../../modules/foundationdb"

  name            = var.name
  vpc_id          = var.vpc_id
  subnet_ids      = local.fdb_subnet_ids
  instance_count  = var.fdb_instance_count
  instance_type   = var.fdb_instance_type
  redundancy_mode = var.fdb_redundancy_mode
  client_security_group_ids = {
    gateways  = module.gateways.security_group_id
    compactor = module.compactor.security_group_id
  }
}

resource "aws_ecs_cluster" "stratus" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

module "gateways" {
  source = "../../modules/gateways"

  name                       = var.name
  cluster_name               = var.name
  ecs_cluster_arn            = aws_ecs_cluster.stratus.arn
  vpc_id                     = var.vpc_id
  zones                      = local.gateway_zones
  nlb_subnet_ids             = coalescelist(var.load_balancer_subnet_ids, [for az, z in local.zones : z.subnet_ids[0]])
  internal                   = var.internal_load_balancer
  client_cidr_blocks         = var.client_cidr_blocks
  tls_certificate_arn        = var.tls_certificate_arn
  image                      = var.image
  min_tasks_per_zone         = var.gateway_min_tasks_per_zone
  max_tasks_per_zone         = var.gateway_max_tasks_per_zone
  cluster_file_parameter_arn = module.foundationdb.cluster_file_parameter_arn
  segments_url               = module.storage.segments_url
  s3_policy_json             = module.storage.gateway_policy_json
  otlp_endpoint              = var.otlp_endpoint
  log_retention_days         = var.log_retention_days
  deletion_protection        = !var.force_destroy

  extra_environment = merge(
    # S3 Standard PUTs take ~50 ms: more flushes in flight keep the ack tail
    # short (README, "By WAL tier").
    { STRATUS_GATEWAY__MAX_CONCURRENT_FLUSHES = var.wal_tier == "standard" ? "32" : "16" },
    var.gateway_environment,
  )
}

module "compactor" {
  source = "../../modules/compactor"

  name                       = var.name
  cluster_name               = var.name
  mode                       = var.compactor_mode
  image                      = var.image
  vpc_id                     = var.vpc_id
  subnet_ids                 = var.private_subnet_ids
  ecs_cluster_arn            = aws_ecs_cluster.stratus.arn
  wal_url                    = module.storage.wal_default_url
  segments_url               = module.storage.segments_url
  s3_policy_json             = module.storage.compactor_policy_json
  cluster_file               = module.foundationdb.cluster_file
  cluster_file_parameter_arn = module.foundationdb.cluster_file_parameter_arn
  otlp_endpoint              = var.otlp_endpoint
  log_retention_days         = var.log_retention_days
  extra_environment          = var.compactor_environment
}

# An example trigger function, deployed when trigger_function_zip is set.
# Bind it to a topic afterwards with `stratus trigger create`, naming the
# trigger_function_arn output.
module "trigger" {
  source = "../../modules/trigger-function"
  count  = var.trigger_function_zip == null ? 0 : 1

  function_name      = "${var.name}-trigger"
  zip_file           = var.trigger_function_zip
  invoker_role_names = [module.gateways.task_role_name]
  log_retention_days = var.log_retention_days
}
