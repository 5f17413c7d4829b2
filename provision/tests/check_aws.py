"""Runs the AWS part of site.yml twice against a local AWS API emulator (moto in server mode)
and checks what it did: old instances terminated, tagged new ones running, the security group
and key pair in place, and nothing changed for them on the second run.

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
    return boto3.client(
        "ec2",
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

    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [f"{DEPLOYMENT}-web"]}])
    check(len(groups["SecurityGroups"]) == 1, "the security group exists")
    rules = {
        (p["FromPort"], r["CidrIp"])
        for p in groups["SecurityGroups"][0]["IpPermissions"]
        for r in p["IpRanges"]
    }
    check((22, "198.51.100.0/24") in rules, "SSH only from the allow-listed range")
    check({(80, "0.0.0.0/0"), (443, "0.0.0.0/0")} <= rules, "80 and 443 from anywhere")
    check(not any(port == 22 and cidr == "0.0.0.0/0" for port, cidr in rules), "SSH not open to the world")
    sg_tags = {t["Key"]: t["Value"] for t in groups["SecurityGroups"][0].get("Tags", [])}
    check(sg_tags.get("deployment") == DEPLOYMENT, "the security group is tagged")
    keys = ec2.describe_key_pairs(KeyNames=[f"{DEPLOYMENT}-deploy"])
    check(len(keys["KeyPairs"]) == 1, "the key pair exists")

    # Second run: the role asserts that the key pair and security group did not change.
    playbook(args.endpoint, ami, args.vault_password_file, "-e", "expect_unchanged=true")
    second = running_of_deployment(ec2)
    check(len(second) == 2, "two tagged instances run after the second run")
    replaced = {i["InstanceId"] for i in first}
    check(all(states(ec2, [i])[i] == "terminated" for i in replaced), "the first run's instances were replaced")
    print("provision check passed")


if __name__ == "__main__":
    main()
