variable "bucket_name" {
  description = "Globally unique name of the bucket."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer managed KMS key for default encryption; null uses the AWS managed key aws/s3."
  type        = string
  default     = null
}

variable "abort_incomplete_multipart_days" {
  description = "Days after which S3 aborts a multipart upload that was never completed and deletes its parts."
  type        = number
  default     = 2

  validation {
    condition     = var.abort_incomplete_multipart_days >= 1
    error_message = "abort_incomplete_multipart_days must be at least 1."
  }
}

variable "access_log_bucket" {
  description = "Bucket that receives S3 server access logs for this bucket; null disables access logging."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the bucket with its objects. Leave false outside test stacks."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
