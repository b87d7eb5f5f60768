output "segments_url" {
  description = "Segment tier URL for STRATUS_SEGMENTS."
  value       = "s3://${module.segments.name}?region=${local.region}"
}

output "segment_bucket_name" {
  description = "Name of the segment bucket."
  value       = module.segments.name
}

output "segment_bucket_arn" {
  description = "ARN of the segment bucket."
  value       = module.segments.arn
}

output "wal_urls" {
  description = "WAL tier URL per availability zone id (S3 Express only; empty for S3 Standard)."
  value       = local.wal_urls
}

output "wal_default_url" {
  description = "WAL tier URL to use where no zone-specific one applies: the first zone's directory bucket, or the S3 Standard bucket."
  value       = local.wal_default_url

  precondition {
    condition     = local.wal_default_url != null
    error_message = "wal_tier = \"express\" needs at least one availability zone id in wal_zone_ids (e.g. use1-az4)."
  }
}

output "wal_bucket_names" {
  description = "Names of the WAL buckets."
  value       = local.wal_bucket_names
}

output "gateway_policy_json" {
  description = "IAM policy document with the S3 access a gateway needs."
  value       = data.aws_iam_policy_document.gateway.json
}

output "compactor_policy_json" {
  description = "IAM policy document with the S3 access the compactor needs."
  value       = data.aws_iam_policy_document.compactor.json
}
