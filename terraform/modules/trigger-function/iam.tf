data "aws_iam_policy_document" "assume_lambda" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

# What the function may do: write its own logs, reach its VPC if it has one,
# and whatever the caller grants in policy_jsons.
resource "aws_iam_role" "execution" {
  name               = "${var.function_name}-execution"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
  tags               = var.tags
}

data "aws_iam_policy_document" "logs" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function.arn}:*"]
  }
}

resource "aws_iam_role_policy" "logs" {
  name   = "logs"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.logs.json
}

resource "aws_iam_role_policy_attachment" "vpc" {
  count = length(var.subnet_ids) == 0 ? 0 : 1

  role       = aws_iam_role.execution.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_iam_role_policy" "extra" {
  count = length(var.policy_jsons)

  name   = "extra-${count.index}"
  role   = aws_iam_role.execution.id
  policy = var.policy_jsons[count.index]
}

# Who may invoke the function: the roles the trigger dispatcher runs as.
data "aws_iam_policy_document" "invoke" {
  statement {
    sid       = "InvokeTriggerFunction"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.this.arn]
  }
}

resource "aws_iam_role_policy" "invoke" {
  for_each = var.invoker_role_names

  name   = "invoke-${var.function_name}"
  role   = each.value
  policy = data.aws_iam_policy_document.invoke.json
}
