# Lambda mode: EventBridge invokes the function every schedule_expression;
# each invocation runs one compaction pass and returns.

resource "aws_iam_role_policy_attachment" "lambda_vpc" {
  count = local.lambda ? 1 : 0

  role       = aws_iam_role.compactor.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_lambda_function" "compactor" {
  #checkov:skip=CKV_AWS_116:Invocations come from a schedule; a failed pass is redone by the next one, so a dead-letter queue would only collect stale ticks.
  #checkov:skip=CKV_AWS_272:A container image from the caller's ECR repository; code signing applies to .zip packages only.
  #checkov:skip=CKV_AWS_50:Traces are exported over OTLP (otlp_endpoint), not to X-Ray.
  count = local.lambda ? 1 : 0

  function_name                  = "${var.name}-compactor"
  role                           = aws_iam_role.compactor.arn
  package_type                   = "Image"
  image_uri                      = var.image
  architectures                  = [var.cpu_architecture == "ARM64" ? "arm64" : "x86_64"]
  memory_size                    = var.lambda_memory_mb
  timeout                        = var.lambda_timeout_seconds
  reserved_concurrent_executions = var.lambda_reserved_concurrency
  kms_key_arn                    = var.kms_key_arn
  tags                           = var.tags

  image_config {
    entry_point       = ["/bin/sh", "-c"]
    command           = [local.start_command]
    working_directory = "/tmp"
  }

  environment {
    # Terraform copies the cluster file in at deploy time: Lambda cannot
    # inject SSM parameters. After coordinators change, re-apply.
    variables = merge(local.environment, { FOUNDATIONDB_CLUSTER = var.cluster_file })
  }

  vpc_config {
    subnet_ids         = var.subnet_ids
    security_group_ids = [aws_security_group.compactor.id]
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.compactor.name
  }

  depends_on = [aws_iam_role_policy_attachment.lambda_vpc, aws_iam_role_policy.s3]
}

# A tick that cannot run (throttled by the reserved concurrency, or failed)
# is dropped instead of retried for hours: the next tick does the same work.
resource "aws_lambda_function_event_invoke_config" "compactor" {
  count = local.lambda ? 1 : 0

  function_name                = aws_lambda_function.compactor[0].function_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = 60
}

resource "aws_cloudwatch_event_rule" "compactor" {
  count = local.lambda ? 1 : 0

  name                = "${var.name}-compactor"
  description         = "One Stratus compaction pass"
  schedule_expression = var.schedule_expression
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "compactor" {
  count = local.lambda ? 1 : 0

  rule = aws_cloudwatch_event_rule.compactor[0].name
  arn  = aws_lambda_function.compactor[0].arn
}

resource "aws_lambda_permission" "events" {
  count = local.lambda ? 1 : 0

  statement_id  = "AllowEventBridgeSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.compactor[0].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.compactor[0].arn
}
