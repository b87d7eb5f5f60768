# A FoundationDB cluster on EC2: fixed instances spread over the given
# subnets (one per availability zone), each with its own EBS data volume and a
# fixed private IP, so the coordinators in the cluster file never move when
# an instance is replaced.

data "aws_region" "current" {}

data "aws_subnet" "this" {
  count = length(var.subnet_ids)
  id    = var.subnet_ids[count.index]
}

data "aws_ssm_parameter" "al2023" {
  count = var.ami_id == null ? 1 : 0
  name  = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${var.architecture}"
}

locals {
  region = data.aws_region.current.region
  ami_id = var.ami_id == null ? nonsensitive(data.aws_ssm_parameter.al2023[0].value) : var.ami_id
  ports  = [for i in range(var.processes_per_instance) : var.port + i]

  # Release assets of apple/foundationdb: el7 packages for x86_64, el9 for aarch64.
  rpm_suffix = var.architecture == "x86_64" ? "el7.x86_64" : "el9.aarch64"

  # Instance i goes to subnet i mod n, and takes the i-th address counted back
  # from the end of its subnet (n instances per subnet at most use distinct
  # addresses): fixed, known at plan time, and far from where AWS hands out
  # addresses to tasks and interfaces.
  nodes = [
    for i in range(var.instance_count) : {
      subnet     = data.aws_subnet.this[i % length(var.subnet_ids)]
      private_ip = cidrhost(data.aws_subnet.this[i % length(var.subnet_ids)].cidr_block, -(var.host_number_from_end + floor(i / length(var.subnet_ids))))
    }
  ]

  # Redundancy mode => fewest instances FoundationDB recommends for it.
  min_instances = { single = 1, double = 3, triple = 5 }
}

resource "aws_ebs_volume" "data" {
  count = var.instance_count

  availability_zone = local.nodes[count.index].subnet.availability_zone
  size              = var.data_volume_size_gb
  type              = "gp3"
  iops              = var.data_volume_iops
  throughput        = var.data_volume_throughput
  encrypted         = true
  kms_key_id        = var.kms_key_arn

  # A separate volume, so the node's data outlives a replaced instance.
  tags = merge(var.tags, { Name = "${var.name}-fdb-${count.index}-data" })
}

resource "aws_instance" "node" {
  count = var.instance_count

  ami                    = local.ami_id
  instance_type          = var.instance_type
  subnet_id              = local.nodes[count.index].subnet.id
  private_ip             = local.nodes[count.index].private_ip
  vpc_security_group_ids = [aws_security_group.fdb.id]
  iam_instance_profile   = aws_iam_instance_profile.fdb.name
  ebs_optimized          = true
  monitoring             = true

  user_data = templatefile("${path.module}/templates/user-data.sh.tftpl", {
    name                   = var.name
    index                  = count.index
    region                 = local.region
    volume_id              = aws_ebs_volume.data[count.index].id
    private_ip             = local.nodes[count.index].private_ip
    zone                   = local.nodes[count.index].subnet.availability_zone_id
    machine_id             = "${var.name}-fdb-${count.index}"
    ports                  = local.ports
    fdb_version            = var.fdb_version
    rpm_suffix             = local.rpm_suffix
    cluster_file_parameter = aws_ssm_parameter.cluster_file.name
    redundancy_mode        = var.redundancy_mode
    storage_engine         = var.storage_engine
  })

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    volume_type = "gp3"
    volume_size = 20
    encrypted   = true
    kms_key_id  = var.kms_key_arn
  }

  tags = merge(var.tags, { Name = "${var.name}-fdb-${count.index}" })

  lifecycle {
    # A newer AMI must not replace every node at once; roll nodes one at a
    # time (terraform apply -replace=...) while the cluster stays available.
    ignore_changes = [ami, user_data]

    precondition {
      condition     = var.instance_count >= local.min_instances[var.redundancy_mode]
      error_message = "redundancy_mode \"${var.redundancy_mode}\" needs at least ${local.min_instances[var.redundancy_mode]} instances; raise instance_count or lower the mode."
    }
  }
}

resource "aws_volume_attachment" "data" {
  count = var.instance_count

  device_name = "/dev/sdf"
  volume_id   = aws_ebs_volume.data[count.index].id
  instance_id = aws_instance.node[count.index].id
}
