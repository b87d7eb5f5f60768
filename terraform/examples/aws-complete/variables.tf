variable "region" {
  description = "AWS region to deploy to."
  type        = string
}

variable "name" {
  description = "Name of the deployment and of the Stratus cluster in metadata; prefixes every resource (1-20 lowercase letters, digits or hyphens)."
  type        = string
  default     = "stratus"
}

variable "vpc_id" {
  description = "Existing VPC to deploy into."
  type        = string
}

variable "private_subnet_ids" {
  description = "Private subnets, one or more per availability zone (three zones recommended), with a route to S3, ECR, SSM and CloudWatch (NAT gateway or VPC endpoints); FoundationDB also downloads its packages from GitHub at first boot."
  type        = list(string)
}

variable "load_balancer_subnet_ids" {
  description = "Subnets for the load balancer, one per zone; empty uses one private subnet per zone (for an internal load balancer). Public subnets for an internet-facing one."
  type        = list(string)
  default     = []
}

variable "internal_load_balancer" {
  description = "Whether the gateways' load balancer is internal to the VPC."
  type        = bool
  default     = true
}

variable "client_cidr_blocks" {
  description = "Client networks allowed to use QUIC (UDP); gRPC over TCP is allowed from the load balancer."
  type        = list(string)
  default     = []
}

variable "tls_certificate_arn" {
  description = "ACM certificate for TLS on the gRPC listener; null serves plain gRPC (keep the load balancer internal then)."
  type        = string
  default     = null
}

variable "image" {
  description = "The stratus image built from infra/Dockerfile and pushed to ECR in this account and region (the compactor's Lambda mode needs ECR)."
  type        = string
}

variable "wal_tier" {
  description = "WAL tier: \"express\" (S3 Express One Zone, one directory bucket per zone) or \"standard\" (one S3 Standard bucket)."
  type        = string
  default     = "express"
}

variable "wal_per_zone" {
  description = "Let each zone's gateways write to their own zone's WAL bucket. Leave false: the gateways and compactor of this Stratus version read WAL objects from one bucket only, so all of them share the first zone's."
  type        = bool
  default     = false
}

variable "fdb_instance_count" {
  description = "Number of FoundationDB instances, spread over the zones."
  type        = number
  default     = 3
}

variable "fdb_instance_type" {
  description = "EC2 instance type of the FoundationDB nodes."
  type        = string
  default     = "m7i.large"
}

variable "fdb_redundancy_mode" {
  description = "FoundationDB redundancy mode: single, double or triple."
  type        = string
  default     = "double"
}

variable "gateway_min_tasks_per_zone" {
  description = "Fewest gateway tasks per zone."
  type        = number
  default     = 1
}

variable "gateway_max_tasks_per_zone" {
  description = "Most gateway tasks per zone."
  type        = number
  default     = 4
}

variable "gateway_environment" {
  description = "Extra gateway settings as environment variables, e.g. { STRATUS_GATEWAY__LINGER = \"10ms\" }."
  type        = map(string)
  default     = {}
}

variable "compactor_mode" {
  description = "How the compactor runs: \"lambda\" (scheduled function) or \"ecs\" (Fargate service)."
  type        = string
  default     = "lambda"
}

variable "compactor_environment" {
  description = "Extra compactor settings as environment variables, e.g. { STRATUS_COMPACTOR__LEASE_TTL = \"120s\" }."
  type        = map(string)
  default     = {}
}

variable "otlp_endpoint" {
  description = "OpenTelemetry collector endpoint (OTEL_EXPORTER_OTLP_ENDPOINT) for gateways and compactor; null exports nothing."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the logs of every component."
  type        = number
  default     = 30
}

variable "trigger_function_zip" {
  description = "Path to a Lambda .zip (bootstrap executable) to deploy as an example trigger function; null deploys none."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "For test stacks: let `terraform destroy` remove buckets with objects and the load balancer."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
