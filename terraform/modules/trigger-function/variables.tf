variable "function_name" {
  description = "Name of the Lambda function."
  type        = string
}

variable "description" {
  description = "Description of the function, e.g. which topic triggers it."
  type        = string
  default     = "Triggered by Stratus topic events"
}

variable "zip_file" {
  description = "Path to a .zip holding a `bootstrap` executable (e.g. from `cargo lambda build --release --output-format zip`); give this or image_uri."
  type        = string
  default     = null
}

variable "image_uri" {
  description = "Container image of the function in ECR; give this or zip_file."
  type        = string
  default     = null
}

variable "runtime" {
  description = "Runtime of a .zip function; Rust functions built with cargo-lambda use provided.al2023."
  type        = string
  default     = "provided.al2023"
}

variable "architecture" {
  description = "Instruction set of the function: x86_64 or arm64."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "memory_mb" {
  description = "Memory of the function in MB."
  type        = number
  default     = 256
}

variable "timeout_seconds" {
  description = "Longest invocation in seconds; keep it below the trigger's retry timeout."
  type        = number
  default     = 60
}

variable "reserved_concurrency" {
  description = "Most invocations at once. The dispatcher invokes at most one batch per partition at a time, so the topic's partition count is a natural bound."
  type        = number
  default     = 16
}

variable "environment" {
  description = "Environment variables of the function."
  type        = map(string)
  default     = {}
}

variable "subnet_ids" {
  description = "Subnets to run the function in, when it must reach resources inside a VPC; empty runs it outside any VPC."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups of the function when subnet_ids are given."
  type        = list(string)
  default     = []
}

variable "policy_jsons" {
  description = "IAM policy documents for what the function itself needs (tables, queues, buckets it writes)."
  type        = list(string)
  default     = []
}

variable "invoker_role_names" {
  description = "Names of the IAM roles the trigger dispatcher runs as (e.g. the gateways' task role); each gets lambda:InvokeFunction on this function."
  type        = set(string)
  default     = []
}

variable "tracing_mode" {
  description = "X-Ray tracing of the function: PassThrough or Active."
  type        = string
  default     = "PassThrough"
}

variable "code_signing_config_arn" {
  description = "Lambda code signing configuration for .zip packages; null signs nothing."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the function's logs."
  type        = number
  default     = 30
}

variable "kms_key_arn" {
  description = "Customer managed KMS key for the log group and environment; null uses AWS managed encryption."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
