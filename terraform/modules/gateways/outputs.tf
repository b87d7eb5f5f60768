output "endpoint" {
  description = "gRPC address of the gateways for clients (`stratus --server` / STRATUS_SERVER)."
  value       = "${var.tls_certificate_arn == null ? "http" : "https"}://${aws_lb.gateway.dns_name}:${var.grpc_port}"
}

output "load_balancer_dns_name" {
  description = "DNS name of the Network Load Balancer."
  value       = aws_lb.gateway.dns_name
}

output "load_balancer_arn" {
  description = "ARN of the Network Load Balancer."
  value       = aws_lb.gateway.arn
}

output "security_group_id" {
  description = "Security group of the gateway tasks (give it access to FoundationDB)."
  value       = aws_security_group.gateway.id
}

output "task_role_arn" {
  description = "ARN of the gateways' task role."
  value       = aws_iam_role.task.arn
}

output "task_role_name" {
  description = "Name of the gateways' task role, to attach more policies (e.g. a trigger function's invoke policy)."
  value       = aws_iam_role.task.name
}

output "service_names" {
  description = "ECS service name per availability zone."
  value       = { for zone, s in aws_ecs_service.gateway : zone => s.name }
}

output "log_group_name" {
  description = "CloudWatch log group of the gateways."
  value       = aws_cloudwatch_log_group.gateway.name
}
