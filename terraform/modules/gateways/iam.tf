data "aws_partition" "current" {}

data "aws_iam_policy_document" "assume_ecs_tasks" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# Execution role: used by ECS to start the task (pull the image, write logs,
# read the cluster file parameter), never by the gateway itself.
resource "aws_iam_role" "execution" {
  name               = "${var.name}-gateway-execution"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
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
  name   = "cluster-file"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.cluster_file.json
}

# Task role: what the gateway process may do, i.e. the S3 access the storage
# module grants gateways, plus whatever the caller adds (e.g. invoking
# trigger functions).
resource "aws_iam_role" "task" {
  name               = "${var.name}-gateway-task"
  assume_role_policy = data.aws_iam_policy_document.assume_ecs_tasks.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "s3" {
  name   = "stratus-storage"
  role   = aws_iam_role.task.id
  policy = var.s3_policy_json
}
