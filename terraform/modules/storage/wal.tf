# The WAL tier. S3 Express One Zone: a directory bucket per availability zone,
# ~single-digit-millisecond PUTs at a lower request price than S3 Standard,
# but the data lives in one zone. S3 Standard: one regional bucket, slower
# PUTs (tens of milliseconds), survives the loss of a zone.

resource "aws_s3_directory_bucket" "wal" {
  for_each = local.express ? toset(var.wal_zone_ids) : toset([])

  # Directory bucket names must be NAME--AZID--x-s3.
  bucket        = "${var.name}-wal-${local.account}--${each.key}--x-s3"
  force_destroy = var.force_destroy
  tags          = var.tags

  location {
    name = each.key
    type = "AvailabilityZone"
  }
}

# Directory buckets always block public access and encrypt at rest; this
# makes the choice of key explicit (SSE-S3 unless a customer key is given:
# S3 Express does not take the AWS managed aws/s3 key).
resource "aws_s3_bucket_server_side_encryption_configuration" "wal_express" {
  for_each = aws_s3_directory_bucket.wal

  bucket = each.value.bucket

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_key_arn == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    # Always on for SSE-KMS in directory buckets; not applicable to SSE-S3.
    bucket_key_enabled = var.kms_key_arn == null ? null : true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "wal_express" {
  for_each = aws_s3_directory_bucket.wal

  bucket = each.value.bucket

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_days
    }
  }
}

module "wal_standard" {
  source = "../s3-bucket"
  count  = local.express ? 0 : 1

  bucket_name                     = "${var.name}-wal-${local.account}-${local.region}"
  kms_key_arn                     = var.kms_key_arn
  abort_incomplete_multipart_days = var.abort_incomplete_multipart_days
  access_log_bucket               = var.access_log_bucket
  force_destroy                   = var.force_destroy
  tags                            = var.tags
}

locals {
  # Zone id => WAL tier URL (query settings per storage/src/tier/s3.rs).
  wal_urls = local.express ? {
    for zone, bucket in aws_s3_directory_bucket.wal :
    zone => "s3://${bucket.bucket}?s3_express=true&region=${local.region}"
  } : {}

  # Express: the first zone's bucket; standard: the regional bucket.
  # (null when no zone is given; the output's precondition says what to do.)
  wal_default_url = local.express ? try(local.wal_urls[var.wal_zone_ids[0]], null) : "s3://${module.wal_standard[0].name}?region=${local.region}"

  wal_bucket_names = local.express ? [for b in aws_s3_directory_bucket.wal : b.bucket] : [module.wal_standard[0].name]
}
