# Object storage for one Stratus cluster: the segment bucket (S3 Standard) and
# the WAL tier, either S3 Express One Zone directory buckets (one per zone) or
# one S3 Standard bucket.
#
# Tier URLs point at bucket roots: Stratus itself keys WAL objects `wal/...`
# and segments `seg/...` inside a tier, so the objects land under exactly those
# prefixes and the IAM policies in access.tf can name them.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.region
  express   = var.wal_tier == "express"
}

module "segments" {
  source = "../s3-bucket"

  # The account and region keep the name globally unique without a random suffix.
  bucket_name                     = "${var.name}-segments-${local.account}-${local.region}"
  kms_key_arn                     = var.kms_key_arn
  abort_incomplete_multipart_days = var.abort_incomplete_multipart_days
  access_log_bucket               = var.access_log_bucket
  force_destroy                   = var.force_destroy
  tags                            = var.tags
}
