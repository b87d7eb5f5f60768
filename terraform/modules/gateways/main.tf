# Stateless gateways on ECS Fargate: one service per availability zone, all
# behind one Network Load Balancer. A service per zone is how each task learns
# its zone through its environment: its WAL tier URL (the zone's S3 Express
# bucket, or a shared one) and its telemetry attributes.

data "aws_region" "current" {}

data "aws_vpc" "this" {
  id = var.vpc_id
}

locals {
  region           = data.aws_region.current.region
  ecs_cluster_name = element(split("/", var.ecs_cluster_arn), 1)

  # The image's home directory, owned by its non-root user (infra/Dockerfile).
  data_dir     = "/var/lib/stratus"
  cluster_file = "${local.data_dir}/fdb.cluster"

  # The cluster file arrives from SSM as an environment variable (ECS secrets
  # take SSM parameters, not files) and is written where STRATUS_METADATA
  # points before the gateway starts. FoundationDB rewrites the file when
  # coordinators change, so it must be writable, not a mounted secret.
  start_command = "printf '%s\\n' \"$FOUNDATIONDB_CLUSTER\" > ${local.cluster_file} && exec stratus gateway"

  # Settings read by `stratus gateway` (names from `stratus config env`;
  # terraform/tests checks them). Per zone: STRATUS_WAL, below.
  stratus_environment = {
    STRATUS_METADATA         = "fdb://${local.cluster_file}"
    STRATUS_SEGMENTS         = var.segments_url
    STRATUS_DATA_DIR         = local.data_dir
    STRATUS_LOG_FORMAT       = "json"
    STRATUS_GATEWAY__LISTEN  = "0.0.0.0:${var.grpc_port}"
    STRATUS_GATEWAY__CLUSTER = var.cluster_name
    # QUIC needs a certificate and key on the task (gateway.quic.cert/key),
    # which this module does not provision yet; until then gateways serve
    # gRPC only and the UDP listener has no backend.
    STRATUS_GATEWAY__QUIC__ENABLED = "false"
    # Gateways listen beyond loopback, which needs TLS with client
    # certificates or an explicit `insecure`. Here TLS ends at the load
    # balancer (tls_certificate_arn), the tasks sit in private subnets, and
    # their security group admits only the load balancer and
    # client_cidr_blocks; that network is the trust boundary.
    STRATUS_INSECURE = "true"
  }

  process_environment = merge(
    { RUST_LOG = var.log_level, OTEL_SERVICE_NAME = "stratus-gateway" },
    var.otlp_endpoint == null ? {} : { OTEL_EXPORTER_OTLP_ENDPOINT = var.otlp_endpoint },
  )

  environment = {
    for zone, z in var.zones : zone => merge(
      local.process_environment,
      local.stratus_environment,
      {
        STRATUS_WAL              = z.wal_url
        OTEL_RESOURCE_ATTRIBUTES = "cloud.provider=aws,cloud.platform=aws_ecs,cloud.region=${local.region},cloud.availability_zone=${zone}"
      },
      var.extra_environment,
    )
  }

  health_check_command = var.health_check_command != null ? var.health_check_command : [
    "CMD", "stratus", "topic", "list", "--server", "http://127.0.0.1:${var.grpc_port}",
  ]

  port_mappings = concat(
    [{ containerPort = var.grpc_port, protocol = "tcp" }],
    var.quic_port == null ? [] : [{ containerPort = var.quic_port, protocol = "udp" }],
  )
}

resource "aws_cloudwatch_log_group" "gateway" {
  name              = "/stratus/${var.name}/gateway"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_ecs_task_definition" "gateway" {
  #checkov:skip=CKV_AWS_336:The gateway writes the FoundationDB cluster file at start (FoundationDB also rewrites it when coordinators move); Fargate bind mounts are root-owned unless the image declares a VOLUME, and the image runs as a non-root user, so the root filesystem stays writable.
  for_each = var.zones

  family                   = "${var.name}-gateway-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  tags                     = var.tags

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode([{
    name       = "gateway"
    image      = var.image
    essential  = true
    entryPoint = ["/bin/sh", "-c"]
    command    = [local.start_command]
    # The cluster file is written into the image's data directory; Fargate
    # bind mounts are root-owned unless the image declares a VOLUME, which
    # infra/Dockerfile does not, so the root filesystem stays writable.
    readonlyRootFilesystem = false
    portMappings           = local.port_mappings
    environment            = [for k, v in local.environment[each.key] : { name = k, value = v }]
    secrets                = [{ name = "FOUNDATIONDB_CLUSTER", valueFrom = var.cluster_file_parameter_arn }]
    # SIGTERM makes the gateway flush and answer in-flight produce calls;
    # give it the time to do so before SIGKILL.
    stopTimeout = 30
    ulimits     = [{ name = "nofile", softLimit = 65536, hardLimit = 65536 }]
    healthCheck = {
      command     = local.health_check_command
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = 60
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.gateway.name
        awslogs-region        = local.region
        awslogs-stream-prefix = each.key
      }
    }
  }])
}

resource "aws_ecs_service" "gateway" {
  for_each = var.zones

  name                              = "${var.name}-gateway-${each.key}"
  cluster                           = var.ecs_cluster_arn
  task_definition                   = aws_ecs_task_definition.gateway[each.key].arn
  desired_count                     = var.min_tasks_per_zone
  launch_type                       = "FARGATE"
  platform_version                  = "LATEST"
  health_check_grace_period_seconds = 60
  propagate_tags                    = "SERVICE"
  enable_ecs_managed_tags           = true
  tags                              = var.tags

  network_configuration {
    subnets          = each.value.subnet_ids
    security_groups  = [aws_security_group.gateway.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.grpc.arn
    container_name   = "gateway"
    container_port   = var.grpc_port
  }

  dynamic "load_balancer" {
    for_each = var.quic_port == null ? [] : [var.quic_port]

    content {
      target_group_arn = aws_lb_target_group.quic[0].arn
      container_name   = "gateway"
      container_port   = load_balancer.value
    }
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  lifecycle {
    # Autoscaling owns the task count after creation.
    ignore_changes = [desired_count]
  }

  # A target group must belong to a load balancer before a service uses it.
  depends_on = [aws_lb_listener.grpc, aws_lb_listener.quic]
}
