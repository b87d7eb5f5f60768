variable "name" {
  description = "Name of the Stratus deployment; prefixes resource names."
  type        = string
}

variable "cluster_name" {
  description = "Stratus cluster name in metadata; the same as the gateways' (gateway.cluster)."
  type        = string
}

variable "mode" {
  description = "How the compactor runs: \"lambda\" (a scheduled function, one pass per invocation) or \"ecs\" (a long-running Fargate service)."
  type        = string
  default     = "lambda"

  validation {
    condition     = contains(["lambda", "ecs"], var.mode)
    error_message = "mode must be \"lambda\" or \"ecs\"."
  }
}

variable "image" {
  description = "The stratus container image built from infra/Dockerfile; Lambda needs it in an ECR repository of this account and region."
  type        = string
}

variable "cpu_architecture" {
  description = "CPU architecture of the image: X86_64 or ARM64."
  type        = string
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "vpc_id" {
  description = "VPC the compactor runs in (it must reach FoundationDB)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the function or tasks."
  type        = list(string)
}

variable "wal_url" {
  description = "WAL tier URL the compactor reads and deletes WAL objects from (storage module output wal_default_url)."
  type        = string
}

variable "segments_url" {
  description = "Segment tier URL the compactor writes segments to (storage module output segments_url)."
  type        = string
}

variable "s3_policy_json" {
  description = "IAM policy document with the compactor's S3 access (storage module output compactor_policy_json)."
  type        = string
}

variable "cluster_file" {
  description = "Contents of the FoundationDB cluster file (foundationdb module output cluster_file); Lambda mode copies it into the function's environment."
  type        = string
}

variable "cluster_file_parameter_arn" {
  description = "SSM parameter holding the FoundationDB cluster file; ECS mode injects it at task start."
  type        = string
}

variable "schedule_expression" {
  description = "Lambda mode: EventBridge schedule of compaction passes, e.g. rate(1 minute)."
  type        = string
  default     = "rate(1 minute)"
}

variable "lambda_memory_mb" {
  description = "Lambda mode: function memory in MB (Lambda allots CPU in proportion; 1769 MB is one vCPU)."
  type        = number
  default     = 2048
}

variable "lambda_timeout_seconds" {
  description = "Lambda mode: longest compaction pass, in seconds (at most 900); keep compactor.lease_ttl above it."
  type        = number
  default     = 900

  validation {
    condition     = var.lambda_timeout_seconds >= 1 && var.lambda_timeout_seconds <= 900
    error_message = "lambda_timeout_seconds must be between 1 and 900."
  }
}

variable "lambda_reserved_concurrency" {
  description = "Lambda mode: most passes running at once; ticks beyond it are dropped, not queued."
  type        = number
  default     = 2
}

variable "ecs_cluster_arn" {
  description = "ECS mode: the ECS cluster of the service."
  type        = string
  default     = null
}

variable "ecs_cpu" {
  description = "ECS mode: Fargate CPU units per task (1024 = 1 vCPU)."
  type        = number
  default     = 1024
}

variable "ecs_memory" {
  description = "ECS mode: Fargate memory per task in MiB."
  type        = number
  default     = 2048
}

variable "ecs_desired_count" {
  description = "ECS mode: number of compactor tasks."
  type        = number
  default     = 1
}

variable "interval" {
  description = "compactor.interval: time between passes in ECS mode (e.g. 30s); null keeps the compactor's default."
  type        = string
  default     = null
}

variable "lease_ttl" {
  description = "compactor.lease_ttl: how long a partition lease lasts without renewal (e.g. 60s); null keeps the default."
  type        = string
  default     = null
}

variable "segment_bytes" {
  description = "compactor.segment_bytes: target segment size in bytes; null keeps the default."
  type        = number
  default     = null
}

variable "object_grace" {
  description = "compactor.object_grace: how long an unreferenced WAL object or segment is kept before deletion, so readers in flight finish; null keeps the default."
  type        = string
  default     = null
}

variable "orphan_grace" {
  description = "compactor.orphan_grace: how long a WAL object that was written but never committed is kept; null keeps the default."
  type        = string
  default     = null
}

variable "log_level" {
  description = "RUST_LOG filter for the compactor's logs."
  type        = string
  default     = "info"
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps compactor logs."
  type        = number
  default     = 30
}

variable "otlp_endpoint" {
  description = "OpenTelemetry collector endpoint passed as OTEL_EXPORTER_OTLP_ENDPOINT; null exports nothing."
  type        = string
  default     = null
}

variable "extra_environment" {
  description = "More environment variables for the compactor, e.g. other compactor.* settings; `stratus config env` lists the names the server reads."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "Customer managed KMS key for the log group and the function's environment; null uses AWS managed encryption."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
