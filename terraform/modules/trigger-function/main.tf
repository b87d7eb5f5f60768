# A function that Stratus invokes with batches of a topic's records (the AWS
# Kafka event shape), and the permissions that wire it up:
#
#   stratus trigger dispatcher --(lambda:InvokeFunction)--> this function
#                                                            `--(execution role)--> what the function touches
#
# The trigger definition itself (topic, consumer group, batching, retries,
# on-failure topic) lives in Stratus metadata and is created with
# `stratus trigger create`, naming function_arn. Invocation is synchronous
# and the dispatcher retries and commits offsets itself, so Lambda's own
# asynchronous retries and dead-letter queues are not involved.

data "aws_partition" "current" {}

locals {
  image = var.image_uri != null
}

resource "aws_cloudwatch_log_group" "function" {
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:The trigger dispatcher invokes synchronously and owns retries and the on-failure topic; a Lambda dead-letter queue only serves asynchronous invocations.
  function_name                  = var.function_name
  description                    = var.description
  role                           = aws_iam_role.execution.arn
  package_type                   = local.image ? "Image" : "Zip"
  image_uri                      = var.image_uri
  filename                       = local.image ? null : var.zip_file
  source_code_hash               = local.image ? null : filebase64sha256(var.zip_file)
  runtime                        = local.image ? null : var.runtime
  handler                        = local.image ? null : "bootstrap"
  architectures                  = [var.architecture]
  memory_size                    = var.memory_mb
  timeout                        = var.timeout_seconds
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = var.kms_key_arn
  code_signing_config_arn        = var.code_signing_config_arn
  tags                           = var.tags

  tracing_config {
    mode = var.tracing_mode
  }

  dynamic "environment" {
    for_each = length(var.environment) == 0 ? [] : [var.environment]

    content {
      variables = environment.value
    }
  }

  dynamic "vpc_config" {
    for_each = length(var.subnet_ids) == 0 ? [] : [var.subnet_ids]

    content {
      subnet_ids         = vpc_config.value
      security_group_ids = var.security_group_ids
    }
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.function.name
  }

  lifecycle {
    precondition {
      condition     = (var.image_uri == null) != (var.zip_file == null)
      error_message = "Give exactly one of image_uri and zip_file (e.g. the bootstrap.zip from `cargo lambda build --release --output-format zip`)."
    }
  }
}
