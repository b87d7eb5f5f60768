output "function_arn" {
  description = "ARN of the function, for `stratus trigger create`."
  value       = aws_lambda_function.this.arn
}

output "function_name" {
  description = "Name of the function."
  value       = aws_lambda_function.this.function_name
}

output "execution_role_arn" {
  description = "ARN of the function's execution role."
  value       = aws_iam_role.execution.arn
}

output "execution_role_name" {
  description = "Name of the function's execution role, to attach more policies."
  value       = aws_iam_role.execution.name
}

output "invoke_policy_json" {
  description = "IAM policy document allowing lambda:InvokeFunction on this function, for a dispatcher role not listed in invoker_role_names."
  value       = data.aws_iam_policy_document.invoke.json
}

output "log_group_name" {
  description = "CloudWatch log group of the function."
  value       = aws_cloudwatch_log_group.function.name
}
