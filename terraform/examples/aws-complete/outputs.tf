output "gateway_endpoint" {
  description = "gRPC address of the gateways."
  value       = module.gateways.endpoint
}

output "cli" {
  description = "How to point the stratus CLI at this cluster."
  value       = "export STRATUS_SERVER=${module.gateways.endpoint}   # or: stratus --server ${module.gateways.endpoint} topic list"
}

output "segment_bucket" {
  description = "Segment bucket name."
  value       = module.storage.segment_bucket_name
}

output "wal_buckets" {
  description = "WAL bucket names."
  value       = module.storage.wal_bucket_names
}

output "cluster_file_parameter" {
  description = "SSM parameter holding the FoundationDB cluster file."
  value       = module.foundationdb.cluster_file_parameter_name
}

output "foundationdb_private_ips" {
  description = "Private IPs of the FoundationDB nodes."
  value       = module.foundationdb.private_ips
}

output "compactor_function_arn" {
  description = "ARN of the compactor function (Lambda mode)."
  value       = module.compactor.function_arn
}

output "trigger_function_arn" {
  description = "ARN of the example trigger function, for `stratus trigger create`; null when none was deployed."
  value       = one(module.trigger[*].function_arn)
}

output "trigger_function_role_arn" {
  description = "Execution role of the example trigger function."
  value       = one(module.trigger[*].execution_role_arn)
}
