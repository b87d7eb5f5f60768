variable "name" {
  description = "Name of the Stratus deployment; prefixes resource names (at most 20 characters: load balancer names are limited to 32)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,19}$", var.name))
    error_message = "name must be 1-20 lowercase letters, digits or hyphens."
  }
}

variable "cluster_name" {
  description = "Stratus cluster name in metadata (gateway.cluster); every gateway and the compactor of one cluster use the same."
  type        = string
}

variable "ecs_cluster_arn" {
  description = "ECS cluster the gateway services run in."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the gateways and the load balancer."
  type        = string
}

variable "zones" {
  description = "Gateway placement per availability zone name (e.g. us-east-1a): the private subnets of that zone and the WAL tier URL its gateways write to."
  type = map(object({
    subnet_ids = list(string)
    wal_url    = string
  }))

  validation {
    condition     = length(var.zones) > 0
    error_message = "zones needs at least one availability zone."
  }
}

variable "nlb_subnet_ids" {
  description = "Subnets of the Network Load Balancer: private ones for an internal load balancer, public ones otherwise; one per zone in zones."
  type        = list(string)
}

variable "internal" {
  description = "Whether the load balancer is internal (reachable only inside the VPC and connected networks)."
  type        = bool
  default     = true
}

variable "client_cidr_blocks" {
  description = "Client networks allowed to send QUIC (UDP keeps the client address, so the gateways' security group must admit it). gRPC is admitted from the load balancer."
  type        = list(string)
  default     = []
}

variable "image" {
  description = "The stratus container image built from infra/Dockerfile (with the FoundationDB client), e.g. an ECR URI with a tag or digest."
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

variable "cpu" {
  description = "Fargate CPU units per gateway task (1024 = 1 vCPU)."
  type        = number
  default     = 1024
}

variable "memory" {
  description = "Fargate memory per gateway task in MiB; must hold gateway.max_inflight_bytes plus gateway.chunk_cache_bytes (256 MiB each by default) with headroom."
  type        = number
  default     = 2048
}

variable "min_tasks_per_zone" {
  description = "Fewest gateway tasks per zone."
  type        = number
  default     = 1
}

variable "max_tasks_per_zone" {
  description = "Most gateway tasks per zone."
  type        = number
  default     = 4
}

variable "cpu_target_percent" {
  description = "Average CPU utilization the autoscaling keeps each zone's service at."
  type        = number
  default     = 60
}

variable "grpc_port" {
  description = "TCP port of the gRPC listener, on the load balancer and in the task (gateway.listen)."
  type        = number
  default     = 7400
}

variable "quic_port" {
  description = "UDP port of the QUIC listener, on the load balancer and in the task; null creates no UDP listener."
  type        = number
  default     = 7401
}

variable "tls_certificate_arn" {
  description = "ACM certificate for a TLS listener on grpc_port, terminated at the load balancer; null serves plain gRPC over TCP (inside a private network only)."
  type        = string
  default     = null
}

variable "cross_zone_load_balancing" {
  description = "Whether the load balancer spreads connections across zones. Off by default: clients stay in their zone (no cross-zone transfer charges, and writes go to that zone's WAL bucket)."
  type        = bool
  default     = false
}

variable "dns_client_routing_policy" {
  description = "How the load balancer's DNS name resolves for clients in the VPC: availability_zone_affinity, partial_availability_zone_affinity or any_availability_zone."
  type        = string
  default     = "availability_zone_affinity"

  validation {
    condition     = contains(["availability_zone_affinity", "partial_availability_zone_affinity", "any_availability_zone"], var.dns_client_routing_policy)
    error_message = "dns_client_routing_policy must be availability_zone_affinity, partial_availability_zone_affinity or any_availability_zone."
  }
}

variable "deletion_protection" {
  description = "Protect the load balancer from deletion (its DNS name is what clients are configured with)."
  type        = bool
  default     = true
}

variable "access_logs_bucket" {
  description = "Bucket for load balancer access logs; null disables them."
  type        = string
  default     = null
}

variable "cluster_file_parameter_arn" {
  description = "SSM parameter holding the FoundationDB cluster file (foundationdb module output)."
  type        = string
}

variable "segments_url" {
  description = "Segment tier URL (storage module output segments_url)."
  type        = string
}

variable "s3_policy_json" {
  description = "IAM policy document with the gateways' S3 access (storage module output gateway_policy_json)."
  type        = string
}

variable "health_check_command" {
  description = "Container health check command, run inside the task in ECS's CMD form; null runs `stratus topic list` against the task's own gRPC port (one call through the gateway into metadata, as infra/docker-compose.yml does)."
  type        = list(string)
  default     = null
}

variable "log_level" {
  description = "RUST_LOG filter for the gateway's logs."
  type        = string
  default     = "info"
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps gateway logs."
  type        = number
  default     = 30
}

variable "otlp_endpoint" {
  description = "OpenTelemetry collector endpoint passed as OTEL_EXPORTER_OTLP_ENDPOINT (e.g. http://collector.internal:4317); null exports nothing."
  type        = string
  default     = null
}

variable "extra_environment" {
  description = "More environment variables for every gateway, e.g. gateway settings such as STRATUS_GATEWAY__LINGER; `stratus config env` lists the names the server reads."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "Customer managed KMS key for the log group; null uses CloudWatch Logs' own encryption."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
