output "security_group_id" {
  description = "Security group of the compactor (give it access to FoundationDB)."
  value       = aws_security_group.compactor.id
}

output "role_arn" {
  description = "ARN of the role the compactor runs as."
  value       = aws_iam_role.compactor.arn
}

output "function_arn" {
  description = "ARN of the compactor function (Lambda mode; null in ECS mode)."
  value       = local.lambda ? aws_lambda_function.compactor[0].arn : null
}

output "service_name" {
  description = "ECS service name of the compactor (ECS mode; null in Lambda mode)."
  value       = local.lambda ? null : aws_ecs_service.compactor[0].name
}

output "log_group_name" {
  description = "CloudWatch log group of the compactor."
  value       = aws_cloudwatch_log_group.compactor.name
}
