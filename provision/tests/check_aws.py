"""Runs the AWS part of site.yml twice against a local AWS API emulator (moto in server mode)
and checks what it did: old instances terminated, tagged new ones running, the security groups
and key pair in place, the load balancer with its HTTPS listener (certificate, TLS policy), its
HTTP redirect and its target group of the instances (health check on /readyz), the backup
bucket and the role the instances wear, and nothing changed for them on the second run but the
targets.

Usage: check_aws.py --endpoint http://127.0.0.1:PORT --vault-password-file FILE
"""

import argparse
import os
import pathlib
import subprocess
import sys

import boto3

REGION = "eu-west-1"
DEPLOYMENT = "eventpost-check"  # as in tests/emulator.yml
PROVISION = pathlib.Path(__file__).resolve().parent.parent


def ec2_client(endpoint):
    return client("ec2", endpoint)


def client(service, endpoint):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def start_instance(ec2, ami, deployment):
    tags = [{"Key": "project", "Value": "eventpost"}, {"Key": "deployment", "Value": deployment}]
    reply = ec2.run_instances(
        ImageId=ami,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )
    return reply["Instances"][0]["InstanceId"]


def states(ec2, ids):
    reply = ec2.describe_instances(InstanceIds=ids)
    return {
        instance["InstanceId"]: instance["State"]["Name"]
        for reservation in reply["Reservations"]
        for instance in reservation["Instances"]
    }


def running_of_deployment(ec2):
    reply = ec2.describe_instances(
        Filters=[
            {"Name": "tag:deployment", "Values": [DEPLOYMENT]},
            {"Name": "instance-state-name", "Values": ["running"]},
        ]
    )
    return [i for r in reply["Reservations"] for i in r["Instances"]]


def playbook(endpoint, ami, vault_password_file, *extra):
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        ANSIBLE_CONFIG=str(PROVISION / "ansible.cfg"),
    )
    command = [
        str(pathlib.Path(sys.executable).parent / "ansible-playbook"),
        "site.yml",
        "--tags", "aws",
        "--vault-password-file", vault_password_file,
        "-e", "@tests/emulator.yml",
        "-e", f"aws_endpoint_url={endpoint}",
        "-e", f"ec2_ami={ami}",
        *extra,
    ]
    subprocess.run(command, cwd=PROVISION, env=env, check=True)


def check(condition, what):
    if not condition:
        sys.exit(f"provision check failed: {what}")
    print(f"ok: {what}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--vault-password-file", required=True)
    args = parser.parse_args()
    ec2 = ec2_client(args.endpoint)
    ami = ec2.describe_images()["Images"][0]["ImageId"]

    old = start_instance(ec2, ami, DEPLOYMENT)
    bystander = start_instance(ec2, ami, "someone-else")
    playbook(args.endpoint, ami, args.vault_password_file)

    check(states(ec2, [old])[old] == "terminated", "the previous deployment's instance was terminated")
    check(states(ec2, [bystander])[bystander] == "running", "an instance of another deployment was left alone")
    first = running_of_deployment(ec2)
    check(len(first) == 2, "two tagged instances run")
    for instance in first:
        tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
        check(tags.get("project") == "eventpost" and tags.get("Name") == DEPLOYMENT, f"{instance['InstanceId']} is tagged")
        check(instance.get("KeyName") == f"{DEPLOYMENT}-deploy", f"{instance['InstanceId']} has the deploy key")

    balancer_group = security_group(ec2, f"{DEPLOYMENT}-lb")
    balancer_rules = cidr_rules(balancer_group)
    check({(80, "0.0.0.0/0"), (443, "0.0.0.0/0")} <= balancer_rules, "the load balancer takes 80 and 443 from anywhere")
    web_group = security_group(ec2, f"{DEPLOYMENT}-web")
    rules = cidr_rules(web_group)
    check((22, "198.51.100.0/24") in rules, "SSH only from the allow-listed range")
    check(not any(port == 22 and cidr == "0.0.0.0/0" for port, cidr in rules), "SSH not open to the world")
    check(not any(port in (80, 443) for port, _ in rules), "the instances take no web traffic from addresses")
    from_groups = {
        (p["FromPort"], pair["GroupId"])
        for p in web_group["IpPermissions"]
        for pair in p.get("UserIdGroupPairs", [])
    }
    check(from_groups == {(80, balancer_group["GroupId"])}, "the gateway's port only from the load balancer")
    sg_tags = {t["Key"]: t["Value"] for t in web_group.get("Tags", [])}
    check(sg_tags.get("deployment") == DEPLOYMENT, "the security group is tagged")
    keys = ec2.describe_key_pairs(KeyNames=[f"{DEPLOYMENT}-deploy"])
    check(len(keys["KeyPairs"]) == 1, "the key pair exists")
    balancer = check_load_balancer(args.endpoint, first)
    check_backups(args.endpoint, first)

    # Second run: the role asserts that the key pair and security groups did not change.
    playbook(args.endpoint, ami, args.vault_password_file, "-e", "expect_unchanged=true")
    second = running_of_deployment(ec2)
    check(len(second) == 2, "two tagged instances run after the second run")
    replaced = {i["InstanceId"] for i in first}
    check(all(states(ec2, [i])[i] == "terminated" for i in replaced), "the first run's instances were replaced")
    check_backups(args.endpoint, second)
    again = check_load_balancer(args.endpoint, second)
    check(again == balancer, "the second run kept the load balancer, its listeners and target group")
    print("provision check passed")


def check_backups(endpoint, instances):
    """The backup bucket (private, encrypted, dumps expiring), and the role the instances wear,
    which may put dumps there and do nothing else."""
    s3 = client("s3", endpoint)
    bucket = f"{DEPLOYMENT}-backups"
    check(bucket in {b["Name"] for b in s3.list_buckets()["Buckets"]}, "the backup bucket exists")
    blocked = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    check(all(blocked.values()), "the backup bucket blocks every public access")
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    check(
        encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256",
        "dumps are encrypted at rest",
    )
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    check(
        [(r["Status"], r["Expiration"]["Days"]) for r in rules] == [("Enabled", 30)],
        "dumps expire after 30 days",
    )
    iam = client("iam", endpoint)
    role = f"{DEPLOYMENT}-instance"
    policy = iam.get_role_policy(RoleName=role, PolicyName="put-backups")["PolicyDocument"]
    check(
        policy["Statement"] == [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*"}],
        "the instances' role may put dumps in the bucket, nothing more",
    )
    profiles = iam.list_instance_profiles_for_role(RoleName=role)["InstanceProfiles"]
    check(len(profiles) == 1, "the role has an instance profile")
    for instance in instances:
        check(
            instance.get("IamInstanceProfile", {}).get("Arn") == profiles[0]["Arn"],
            f"{instance['InstanceId']} wears the role",
        )
        check(
            instance.get("MetadataOptions", {}).get("HttpTokens") == "required",
            f"{instance['InstanceId']} serves its credentials by IMDSv2 only",
        )


def security_group(ec2, name):
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])
    check(len(groups["SecurityGroups"]) == 1, f"the security group {name} exists")
    return groups["SecurityGroups"][0]


def cidr_rules(group):
    return {(p["FromPort"], r["CidrIp"]) for p in group["IpPermissions"] for r in p["IpRanges"]}


def check_load_balancer(endpoint, instances):
    """Checks the load balancer in front of `instances`; returns the ARNs of what it found."""
    elbv2 = client("elbv2", endpoint)
    balancers = elbv2.describe_load_balancers(Names=[DEPLOYMENT])["LoadBalancers"]
    check(len(balancers) == 1, "one load balancer")
    balancer = balancers[0]
    check(balancer["Scheme"] == "internet-facing" and balancer["Type"] == "application", "an internet-facing application load balancer")
    check(len(balancer["AvailabilityZones"]) >= 2, "across at least two availability zones")

    groups = elbv2.describe_target_groups(Names=[f"{DEPLOYMENT}-gateways"])["TargetGroups"]
    check(len(groups) == 1, "one target group of gateways")
    group = groups[0]
    check(group["Protocol"] == "HTTP" and group["Port"] == 80, "the target group reaches the gateways on port 80")
    check(group["HealthCheckPath"] == "/readyz" and group["Matcher"]["HttpCode"] == "200", "healthy when /readyz answers 200")
    targets = elbv2.describe_target_health(TargetGroupArn=group["TargetGroupArn"])["TargetHealthDescriptions"]
    check(
        {t["Target"]["Id"] for t in targets} == {i["InstanceId"] for i in instances},
        "the targets are the running instances",
    )

    listeners = {
        listener["Port"]: listener
        for listener in elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
    }
    check(set(listeners) == {80, 443}, "listeners on 80 and 443 only")
    https = listeners[443]
    check(https["Protocol"] == "HTTPS", "443 speaks HTTPS")
    check(https["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06", "with TLS 1.2 and 1.3 only")
    check(
        https["DefaultActions"][0]["Type"] == "forward"
        and https["DefaultActions"][0]["TargetGroupArn"] == group["TargetGroupArn"],
        "HTTPS goes to the gateways",
    )
    certificate_arn = https["Certificates"][0]["CertificateArn"]
    certificate = client("acm", endpoint).describe_certificate(CertificateArn=certificate_arn)["Certificate"]
    check(certificate["DomainName"] == "eventpost-check.example", "the certificate is the domain's, in ACM")
    redirect = listeners[80]["DefaultActions"][0]
    check(
        listeners[80]["Protocol"] == "HTTP"
        and redirect["Type"] == "redirect"
        and redirect["RedirectConfig"]["Protocol"] == "HTTPS"
        and redirect["RedirectConfig"]["Port"] == "443"
        and redirect["RedirectConfig"]["StatusCode"] == "HTTP_301",
        "HTTP is redirected to HTTPS",
    )
    return (
        balancer["LoadBalancerArn"],
        group["TargetGroupArn"],
        https["ListenerArn"],
        listeners[80]["ListenerArn"],
        certificate_arn,
    )


if __name__ == "__main__":
    main()
