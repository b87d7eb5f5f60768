variable "name" {
  description = "Name of the Stratus cluster; prefixes every bucket name (lowercase letters, digits and hyphens, at most 20 characters so bucket names stay under 63)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{0,19}$", var.name))
    error_message = "name must be 1-20 lowercase letters, digits or hyphens, starting with a letter or digit."
  }
}

variable "wal_tier" {
  description = "Where WAL objects go: \"express\" (S3 Express One Zone directory buckets, one per zone in wal_zone_ids) or \"standard\" (one S3 Standard bucket)."
  type        = string
  default     = "express"

  validation {
    condition     = contains(["express", "standard"], var.wal_tier)
    error_message = "wal_tier must be \"express\" or \"standard\"."
  }
}

variable "wal_zone_ids" {
  description = "Availability zone ids (e.g. use1-az4, not us-east-1a) that get a WAL directory bucket when wal_tier is \"express\". The first is the default WAL tier."
  type        = list(string)
  default     = []
}

variable "kms_key_arn" {
  description = "Customer managed KMS key for all Stratus buckets; null uses SSE-KMS with aws/s3 for S3 Standard buckets and SSE-S3 for directory buckets."
  type        = string
  default     = null
}

variable "abort_incomplete_multipart_days" {
  description = "Days after which unfinished multipart uploads are aborted and their parts deleted."
  type        = number
  default     = 2
}

variable "access_log_bucket" {
  description = "Bucket for S3 server access logs of the S3 Standard buckets; null disables them."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete buckets that still hold objects. Leave false outside test stacks."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
