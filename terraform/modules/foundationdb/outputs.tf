output "cluster_file" {
  description = "Contents of the cluster file as stored in SSM (reflects an operator's update after the next refresh)."
  value       = aws_ssm_parameter.cluster_file.value
}

output "cluster_file_parameter_name" {
  description = "Name of the SSM parameter holding the cluster file."
  value       = aws_ssm_parameter.cluster_file.name
}

output "cluster_file_parameter_arn" {
  description = "ARN of the SSM parameter holding the cluster file."
  value       = aws_ssm_parameter.cluster_file.arn
}

output "security_group_id" {
  description = "Security group of the FoundationDB nodes."
  value       = aws_security_group.fdb.id
}

output "port_range" {
  description = "First and last TCP port the fdbserver processes listen on; clients need egress to them."
  value       = { from = var.port, to = var.port + var.processes_per_instance - 1 }
}

output "private_ips" {
  description = "Fixed private IPs of the nodes, in order."
  value       = [for node in local.nodes : node.private_ip]
}

output "instance_ids" {
  description = "EC2 instance ids of the nodes."
  value       = aws_instance.node[*].id
}
