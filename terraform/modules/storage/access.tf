# Least-privilege S3 access for each component, written here because only
# this module knows the bucket kinds, names and keys. Gateways and the
# compactor attach these documents to their roles.
#
# Object keys inside a tier come from the code, not from configuration:
# WAL objects `wal/<ulid>.wal` (storage/src/log/append.rs), segments `seg/...`,
# and the start-up probe `_stratus/probe/<ulid>` that every process writes,
# reads and deletes once in each tier it opens (storage/src/tier.rs,
# probe_tier).

locals {
  wal_keys     = "wal/*"
  segment_keys = "seg/*"
  probe_keys   = "_stratus/probe/*"

  segment_bucket_arn = module.segments.arn
  wal_standard_arn   = local.express ? null : module.wal_standard[0].arn

  # Directory buckets authorize per bucket only: a ReadWrite session may put,
  # get, list and delete anything in the bucket. Prefixes cannot be narrowed,
  # which is why each WAL directory bucket holds nothing but WAL objects.
  wal_express_arns = [
    for b in aws_s3_directory_bucket.wal :
    "arn:${local.partition}:s3express:${local.region}:${local.account}:bucket/${b.bucket}"
  ]
}

# Statements shared by both components: the probe of each tier, and the KMS
# key when one is given.
data "aws_iam_policy_document" "common" {
  statement {
    sid       = "ProbeSegmentTier"
    actions   = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"]
    resources = ["${local.segment_bucket_arn}/${local.probe_keys}"]
  }

  statement {
    sid       = "ListSegmentProbe"
    actions   = ["s3:ListBucket"]
    resources = [local.segment_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [local.probe_keys]
    }
  }

  dynamic "statement" {
    for_each = local.express ? [] : [local.wal_standard_arn]

    content {
      sid       = "ProbeWalTier"
      actions   = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"]
      resources = ["${statement.value}/${local.probe_keys}"]
    }
  }

  dynamic "statement" {
    for_each = local.express ? [local.wal_express_arns] : []

    content {
      sid       = "WalSessions"
      actions   = ["s3express:CreateSession"]
      resources = statement.value
    }
  }

  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]

    content {
      sid       = "UseBucketKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

# Gateways write and read WAL objects and read segments; they never delete
# or list data.
data "aws_iam_policy_document" "gateway" {
  source_policy_documents = [data.aws_iam_policy_document.common.json]

  statement {
    sid       = "ReadSegments"
    actions   = ["s3:GetObject"]
    resources = ["${local.segment_bucket_arn}/${local.segment_keys}"]
  }

  dynamic "statement" {
    for_each = local.express ? [] : [local.wal_standard_arn]

    content {
      sid       = "WriteAndReadWal"
      actions   = ["s3:PutObject", "s3:GetObject"]
      resources = ["${statement.value}/${local.wal_keys}"]
    }
  }

  dynamic "statement" {
    for_each = local.express ? [] : [local.wal_standard_arn]

    content {
      sid       = "ListWalProbe"
      actions   = ["s3:ListBucket"]
      resources = [statement.value]

      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = [local.probe_keys]
      }
    }
  }
}

# The compactor reads, lists and deletes WAL objects (merging them into
# segments, then garbage collection) and owns segments: writes, reads, lists
# and deletes them (retention, key compaction, GC).
data "aws_iam_policy_document" "compactor" {
  source_policy_documents = [data.aws_iam_policy_document.common.json]

  statement {
    sid = "OwnSegments"
    actions = [
      "s3:PutObject",
      "s3:GetObject",
      "s3:DeleteObject",
      # Large segments are multipart uploads; a failed one is aborted.
      "s3:AbortMultipartUpload",
    ]
    resources = ["${local.segment_bucket_arn}/${local.segment_keys}"]
  }

  statement {
    sid       = "ListSegments"
    actions   = ["s3:ListBucket"]
    resources = [local.segment_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [local.segment_keys]
    }
  }

  dynamic "statement" {
    for_each = local.express ? [] : [local.wal_standard_arn]

    content {
      sid       = "ReadAndDeleteWal"
      actions   = ["s3:GetObject", "s3:DeleteObject"]
      resources = ["${statement.value}/${local.wal_keys}"]
    }
  }

  dynamic "statement" {
    for_each = local.express ? [] : [local.wal_standard_arn]

    content {
      sid       = "ListWal"
      actions   = ["s3:ListBucket"]
      resources = [statement.value]

      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = [local.wal_keys, local.probe_keys]
      }
    }
  }
}
