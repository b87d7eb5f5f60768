# A private, encrypted, TLS-only general-purpose bucket for objects Stratus
# writes once and deletes itself (segments; WAL objects on S3 Standard).

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_21:Versioning is off by design. Stratus objects are immutable and written create-only (If-None-Match: *), so there is nothing to roll back; the compactor's GC deletes them once unreferenced, and versioning would keep every deleted byte billable as a noncurrent version.
  #checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice that also needs the metadata (FoundationDB) replicated consistently; replicating objects alone restores nothing.
  #checkov:skip=CKV2_AWS_62:Nothing consumes bucket events; Stratus learns about objects from its metadata, not from notifications.
  bucket        = var.bucket_name
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
      # null: the AWS managed key aws/s3, which needs no key policy or grant.
      kms_master_key_id = var.kms_key_arn
    }
    # One data key per bucket instead of one KMS request per object: at
    # thousands of PUTs per GiB ingested, per-object KMS calls would cost more
    # than the PUTs.
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  # A compactor that dies mid-upload leaves parts nobody completes; they are
  # billed as storage until aborted.
  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_days
    }
  }
}

resource "aws_s3_bucket_logging" "this" {
  count = var.access_log_bucket == null ? 0 : 1

  bucket        = aws_s3_bucket.this.id
  target_bucket = var.access_log_bucket
  target_prefix = "${var.bucket_name}/"
}

data "aws_iam_policy_document" "tls_only" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.this.arn,
      "${aws_s3_bucket.this.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.tls_only.json

  # S3 refuses a policy while the public access block is still being applied.
  depends_on = [aws_s3_bucket_public_access_block.this]
}
