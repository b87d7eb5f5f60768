# The compactor: WAL objects into segments, retention, key compaction and
# garbage collection. Either a Lambda function that EventBridge invokes on a
# schedule, one compaction pass per invocation (`stratus compactor --lambda`),
# or a small ECS service that loops on its own interval (`stratus compactor`).
# Both hold leases in metadata, so overlapping runs never do the same work.

data "aws_region" "current" {}
data "aws_partition" "current" {}

data "aws_vpc" "this" {
  id = var.vpc_id
}

locals {
  region = data.aws_region.current.region
  lambda = var.mode == "lambda"

  # Lambda gives a writable /tmp only; ECS tasks use the image's home directory.
  data_dir     = local.lambda ? "/tmp/stratus" : "/var/lib/stratus"
  cluster_file = "${local.data_dir}/fdb.cluster"

  # See the gateways module: the cluster file arrives in an environment
  # variable and is written where STRATUS_METADATA points.
  start_command = "mkdir -p ${local.data_dir} && printf '%s\\n' \"$FOUNDATIONDB_CLUSTER\" > ${local.cluster_file} && exec stratus compactor${local.lambda ? " --lambda" : ""}"

  # Settings read by `stratus compactor` (names from `stratus config env`;
  # terraform/tests checks them). The cluster name is gateway.cluster, the
  # one setting that names a cluster's key space.
  stratus_environment = {
    STRATUS_METADATA         = "fdb://${local.cluster_file}"
    STRATUS_WAL              = var.wal_url
    STRATUS_SEGMENTS         = var.segments_url
    STRATUS_DATA_DIR         = local.data_dir
    STRATUS_LOG_FORMAT       = "json"
    STRATUS_GATEWAY__CLUSTER = var.cluster_name
  }

  # Unset (null) settings keep the compactor's defaults.
  compactor_settings = {
    STRATUS_COMPACTOR__INTERVAL      = var.interval
    STRATUS_COMPACTOR__LEASE_TTL     = var.lease_ttl
    STRATUS_COMPACTOR__SEGMENT_BYTES = var.segment_bytes == null ? null : tostring(var.segment_bytes)
    STRATUS_COMPACTOR__OBJECT_GRACE  = var.object_grace
    STRATUS_COMPACTOR__ORPHAN_GRACE  = var.orphan_grace
  }

  environment = merge(
    { RUST_LOG = var.log_level, OTEL_SERVICE_NAME = "stratus-compactor" },
    var.otlp_endpoint == null ? {} : { OTEL_EXPORTER_OTLP_ENDPOINT = var.otlp_endpoint },
    local.stratus_environment,
    { for k, v in local.compactor_settings : k => v if v != null },
    var.extra_environment,
  )
}

resource "aws_cloudwatch_log_group" "compactor" {
  name              = "/stratus/${var.name}/compactor"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_security_group" "compactor" {
  name        = "${var.name}-compactor"
  description = "Stratus compactor of ${var.name}"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.compactor.id
  description       = "HTTPS: S3, S3 Express, ECR, SSM, CloudWatch Logs"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "vpc" {
  security_group_id = aws_security_group.compactor.id
  description       = "FoundationDB and the OTLP collector inside the VPC"
  cidr_ipv4         = data.aws_vpc.this.cidr_block
  ip_protocol       = "tcp"
  from_port         = 0
  to_port           = 65535
}

# The role the compactor process runs as, in either mode.
data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = [local.lambda ? "lambda.amazonaws.com" : "ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "compactor" {
  name               = "${var.name}-compactor"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "s3" {
  name   = "stratus-storage"
  role   = aws_iam_role.compactor.id
  policy = var.s3_policy_json
}
