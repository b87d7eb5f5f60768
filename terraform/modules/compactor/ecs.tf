# ECS mode: a long-running `stratus compactor` that runs a pass every
# compactor.interval. More than one task is safe (leases), rarely useful.

resource "aws_iam_role" "execution" {
  count = local.lambda ? 0 : 1

  name               = "${var.name}-compactor-execution"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "execution" {
  count = local.lambda ? 0 : 1

  role       = aws_iam_role.execution[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

data "aws_iam_policy_document" "cluster_file" {
  statement {
    sid       = "ReadClusterFile"
    actions   = ["ssm:GetParameters"]
    resources = [var.cluster_file_parameter_arn]
  }
}

resource "aws_iam_role_policy" "cluster_file" {
  count = local.lambda ? 0 : 1

  name   = "cluster-file"
  role   = aws_iam_role.execution[0].id
  policy = data.aws_iam_policy_document.cluster_file.json
}

resource "aws_ecs_task_definition" "compactor" {
  #checkov:skip=CKV_AWS_336:The compactor writes the FoundationDB cluster file at start; Fargate bind mounts are root-owned unless the image declares a VOLUME, and the image runs as a non-root user, so the root filesystem stays writable.
  count = local.lambda ? 0 : 1

  family                   = "${var.name}-compactor"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.ecs_cpu
  memory                   = var.ecs_memory
  execution_role_arn       = aws_iam_role.execution[0].arn
  task_role_arn            = aws_iam_role.compactor.arn
  tags                     = var.tags

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  container_definitions = jsonencode([{
    name       = "compactor"
    image      = var.image
    essential  = true
    entryPoint = ["/bin/sh", "-c"]
    command    = [local.start_command]
    # Writes the cluster file into the image's data directory; see the
    # gateways module for why the root filesystem stays writable.
    readonlyRootFilesystem = false
    environment            = [for k, v in local.environment : { name = k, value = v }]
    secrets                = [{ name = "FOUNDATIONDB_CLUSTER", valueFrom = var.cluster_file_parameter_arn }]
    stopTimeout            = 30
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.compactor.name
        awslogs-region        = local.region
        awslogs-stream-prefix = "compactor"
      }
    }
  }])

  lifecycle {
    precondition {
      condition     = var.ecs_cluster_arn != null
      error_message = "mode = \"ecs\" needs ecs_cluster_arn."
    }
  }
}

resource "aws_ecs_service" "compactor" {
  count = local.lambda ? 0 : 1

  name                    = "${var.name}-compactor"
  cluster                 = var.ecs_cluster_arn
  task_definition         = aws_ecs_task_definition.compactor[0].arn
  desired_count           = var.ecs_desired_count
  launch_type             = "FARGATE"
  platform_version        = "LATEST"
  propagate_tags          = "SERVICE"
  enable_ecs_managed_tags = true
  tags                    = var.tags

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.compactor.id]
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
}
