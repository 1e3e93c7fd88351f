#!/usr/bin/env python3
"""An in-memory Kubernetes API server for o2gw's tests (Python 3.11 standard library only).

    fake_kube_apiserver.py --pki DIR [--host 127.0.0.1] [--port 0] [--control-port 0]
                           [--token fake-token] [--require-client-cert] [--with-machine-apis]
                           [--bookmark-interval-ms 1000] [--history 100000] [--verbose]

It speaks enough of the real REST protocol that the real kubectl and helm accept it:
discovery (legacy and aggregated v2), a minimal OpenAPI v3 (every PATCH operation
declares the fieldValidation parameter, so clients leave validation to the server),
generic CRUD with Status errors, the four patch types, server-side apply, label and
field selectors, paging with continue tokens, watches with bookmarks and a bounded
history, status subresources, CustomResourceDefinitions served generically, and
server-side Tables for `kubectl get`.

Two ports on --host:
  * the API port: TLS with the server certificate from --pki; a request is
    authenticated by a client certificate signed by the CA or by the bearer token
    (401 Status otherwise). --require-client-cert makes the handshake demand a
    certificate (mTLS only).
  * the control port: plain HTTP, no authentication, the same API plus:
        POST /_fake/compact        history before the current version is dropped
        POST /_fake/drop-watches   every open watch stream is cut (no final chunk)
        POST /_fake/hang {"ms": N} every API-port request waits N ms first (0: off)
        POST /_fake/token {"token": "..."}  the accepted bearer token ("" = none)
        GET  /_fake/stats          {"requests", "watchesOpen", "watchesStarted", "resourceVersion"}
        POST /_fake/bulk {"objects": [...]}  create or replace, one event each
        GET  /_fake/requests       the last 500 API requests, oldest first

--pki DIR holds ca.pem, ca.key, server.pem, server.key, client.pem, client.key; the
missing ones are made with the openssl CLI (the client certificate is CN=o2gw-test,
O=system:masters). Once both ports accept connections, one line is printed:
    listening api=<port> control=<port>
"""

import argparse
import base64
import bisect
import copy
import datetime
import json
import os
import re
import select
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_BODY_BYTES = 64 * 1024 * 1024
KUBE_VERSION = {"major": "1", "minor": "33", "gitVersion": "v1.33.9", "gitCommit": "0" * 40,
                "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.24.0",
                "compiler": "gc", "platform": "linux/amd64", "emulationMajor": "1", "emulationMinor": "33",
                "minCompatibilityMajor": "1", "minCompatibilityMinor": "32"}
ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
STATUS_VERBS = ["get", "patch", "update"]
DEFAULT_WATCH_TIMEOUT_S = 1800
REQUEST_LOG_SIZE = 500
REQUEST_BODY_PREVIEW = 2048
DISCOVERY_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


# --------------------------------------------------------------------------------------------
# Errors: every failure is a metav1.Status


class ApiError(Exception):
    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self):
        return status_object(self.code, self.reason, self.message, self.details)


def status_object(code, reason, message, details=None):
    out = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
           "reason": reason}
    if details is not None:
        out["details"] = details
    out["code"] = code
    return out


def qualified(rtype):
    return rtype.plural + ("." + rtype.group if rtype.group else "")


def not_found(rtype, name):
    details = {"name": name, "kind": rtype.plural}
    if rtype.group:
        details["group"] = rtype.group
    return ApiError(404, "NotFound", f'{qualified(rtype)} "{name}" not found', details)


def namespace_not_found(ns):
    return ApiError(404, "NotFound", f'namespaces "{ns}" not found', {"name": ns, "kind": "namespaces"})


def already_exists(rtype, name):
    details = {"name": name, "kind": rtype.plural}
    if rtype.group:
        details["group"] = rtype.group
    return ApiError(409, "AlreadyExists", f'{qualified(rtype)} "{name}" already exists', details)


def conflict(rtype, name, why="the object has been modified; please apply your changes to the latest version "
                               "and try again"):
    details = {"name": name, "kind": rtype.plural}
    if rtype.group:
        details["group"] = rtype.group
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {qualified(rtype)} "{name}": {why}', details)


def invalid(kind, group, name, causes):
    """422 Invalid; causes: [(field, reason, message)]."""
    details = {"name": name, "kind": kind, "causes": [
        {"reason": reason, "message": message, "field": field} for field, reason, message in causes]}
    if group:
        details["group"] = group
    text = ", ".join(f"{field}: {message}" for field, _, message in causes)
    prefix = f"{kind}.{group}" if group else kind
    return ApiError(422, "Invalid", f'{prefix} "{name}" is invalid: {text}', details)


def bad_request(message):
    return ApiError(400, "BadRequest", message)


def expired(message):
    return ApiError(410, "Expired", message)


# --------------------------------------------------------------------------------------------
# Resource types


class ResourceType:
    def __init__(self, group, version, plural, singular, kind, namespaced, short_names=(), categories=(),
                 status_subresource=False, status_on_create="drop", has_generation=False, name_rule="subdomain",
                 field_labels=(), custom=False, verbs=None, scale=None):
        self.group = group
        self.version = version
        self.plural = plural
        self.singular = singular
        self.kind = kind
        self.namespaced = namespaced
        self.short_names = list(short_names)
        self.categories = list(categories)
        self.status_subresource = status_subresource
        self.status_on_create = status_on_create  # "keep", "drop" or "pending" (pods)
        self.has_generation = has_generation
        self.name_rule = name_rule
        self.field_labels = set(field_labels) | {"metadata.name", "metadata.namespace"}
        self.custom = custom
        self.verbs = list(verbs or ALL_VERBS)
        # The scale subresource: {"specReplicasPath", "statusReplicasPath", "labelSelectorPath"} as in a CRD.
        self.scale = scale

    @property
    def api_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def storage(self):
        return (self.group, self.plural)

    def path_prefix(self):
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"


DEPLOYMENT_SCALE = {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas",
                    "labelSelectorPath": ".spec.selector"}
MACHINE_SET_SCALE = {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas",
                     "labelSelectorPath": ".status.selector"}


def builtin_types():
    pod_fields = ["spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
                  "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"]
    event_fields = ["involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                    "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
                    "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"]
    return [
        ResourceType("", "v1", "namespaces", "namespace", "Namespace", False, ["ns"], status_subresource=True,
                     status_on_create="drop", name_rule="label", field_labels=["status.phase"],
                     verbs=["create", "delete", "get", "list", "patch", "update", "watch"]),
        ResourceType("", "v1", "nodes", "node", "Node", False, ["no"], status_subresource=True,
                     status_on_create="keep", field_labels=["spec.unschedulable"]),
        ResourceType("", "v1", "pods", "pod", "Pod", True, ["po"], ["all"], status_subresource=True,
                     status_on_create="pending", has_generation=True, field_labels=pod_fields),
        ResourceType("", "v1", "services", "service", "Service", True, ["svc"], ["all"], status_subresource=True,
                     status_on_create="drop", name_rule="label"),
        ResourceType("", "v1", "configmaps", "configmap", "ConfigMap", True, ["cm"]),
        ResourceType("", "v1", "secrets", "secret", "Secret", True, field_labels=["type"]),
        ResourceType("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", True, ["sa"]),
        ResourceType("", "v1", "events", "event", "Event", True, ["ev"], field_labels=event_fields),
        ResourceType("apps", "v1", "deployments", "deployment", "Deployment", True, ["deploy"], ["all"],
                     status_subresource=True, has_generation=True, scale=DEPLOYMENT_SCALE),
        ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions", "customresourcedefinition",
                     "CustomResourceDefinition", False, ["crd", "crds"], ["api-extensions"],
                     status_subresource=True, has_generation=True),
    ]


def machine_api_crds():
    """CRDs for the machine APIs of OpenShift (machine.openshift.io) and Cluster API (cluster.x-k8s.io)."""
    def crd(group, plural, kind, short_names=(), categories=(), scale=False):
        subresources = {"status": {}}
        if scale:
            subresources["scale"] = dict(MACHINE_SET_SCALE)
        return {
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {
                "group": group, "scope": "Namespaced",
                "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "listKind": kind + "List",
                          "shortNames": list(short_names), "categories": list(categories)},
                "versions": [{"name": "v1beta1", "served": True, "storage": True,
                              "schema": {"openAPIV3Schema": {"type": "object",
                                                             "x-kubernetes-preserve-unknown-fields": True}},
                              "subresources": subresources}],
            },
        }
    return [
        crd("machine.openshift.io", "machinesets", "MachineSet", categories=["machine-api"], scale=True),
        crd("machine.openshift.io", "machines", "Machine", categories=["machine-api"]),
        crd("cluster.x-k8s.io", "machinedeployments", "MachineDeployment", ["md"], ["cluster-api"], scale=True),
        crd("cluster.x-k8s.io", "machinesets", "MachineSet", ["ms"], ["cluster-api"], scale=True),
        crd("cluster.x-k8s.io", "machines", "Machine", ["ma"], ["cluster-api"]),
    ]


def version_priority(version):
    """Kubernetes version ordering: v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > anything else."""
    m = re.match(r"^v(\d+)(?:(alpha|beta)(\d+))?$", version)
    if not m:
        return (0, 0, 0, version)
    major = int(m.group(1))
    stage = {"alpha": 1, "beta": 2, None: 3}[m.group(2)]
    minor = int(m.group(3) or 0)
    return (stage, major, minor, "")


# --------------------------------------------------------------------------------------------
# Selectors


class LabelSelector:
    _TERM = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_./]*)\s*(==|=|!=|>|<)\s*([-A-Za-z0-9_.]*)$")
    _SET = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_./]*)\s+(in|notin)\s*\((.*)\)$")
    _KEY = re.compile(r"^(!?)\s*([A-Za-z0-9][-A-Za-z0-9_./]*)$")

    def __init__(self, text):
        self.requirements = []
        text = (text or "").strip()
        if not text:
            return
        for term in self._split(text):
            term = term.strip()
            m = self._SET.match(term)
            if m:
                values = {v.strip() for v in m.group(3).split(",") if v.strip()}
                self.requirements.append((m.group(1), m.group(2), values))
                continue
            m = self._TERM.match(term)
            if m:
                self.requirements.append((m.group(1), m.group(2), m.group(3)))
                continue
            m = self._KEY.match(term)
            if m:
                self.requirements.append((m.group(2), "!exists" if m.group(1) else "exists", None))
                continue
            raise bad_request(f"unable to parse requirement: invalid label selector term {term!r}")
        for key, op, value in self.requirements:
            if op in (">", "<"):
                try:
                    int(value)
                except ValueError:
                    raise bad_request(f"unable to parse requirement: for 'Gt', 'Lt' operators, the value must "
                                      f"be an integer: {value!r}") from None

    @staticmethod
    def _split(text):
        parts, depth, current = [], 0, []
        for ch in text:
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            if ch == "," and depth == 0:
                parts.append("".join(current))
                current = []
            else:
                current.append(ch)
        parts.append("".join(current))
        return parts

    def empty(self):
        return not self.requirements

    def matches(self, obj):
        if not self.requirements:
            return True
        labels = (obj.get("metadata") or {}).get("labels") or {}
        for key, op, value in self.requirements:
            have = key in labels
            actual = labels.get(key)
            if op in ("=", "=="):
                if not have or actual != value:
                    return False
            elif op == "!=":
                if have and actual == value:
                    return False
            elif op == "in":
                if not have or actual not in value:
                    return False
            elif op == "notin":
                if have and actual in value:
                    return False
            elif op == "exists":
                if not have:
                    return False
            elif op == "!exists":
                if have:
                    return False
            elif op in (">", "<"):
                try:
                    number = int(actual)
                except (TypeError, ValueError):
                    return False
                if (op == ">" and not number > int(value)) or (op == "<" and not number < int(value)):
                    return False
        return True


class FieldSelector:
    _TERM = re.compile(r"^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$")

    def __init__(self, rtype, text):
        self.requirements = []
        text = (text or "").strip()
        if not text:
            return
        for term in text.split(","):
            m = self._TERM.match(term.strip())
            if not m:
                raise bad_request(f"invalid field selector: {term!r}")
            field, op, value = m.groups()
            if field not in rtype.field_labels:
                raise bad_request(f'field label not supported: {field}')
            self.requirements.append((field, op != "!=", value))

    def empty(self):
        return not self.requirements

    def single_name(self):
        for field, equal, value in self.requirements:
            if field == "metadata.name" and equal:
                return value
        return None

    def matches(self, obj):
        for field, equal, value in self.requirements:
            actual = obj
            for part in field.split("."):
                actual = actual.get(part) if isinstance(actual, dict) else None
            if isinstance(actual, bool):
                actual = "true" if actual else "false"
            elif actual is None:
                actual = ""
            else:
                actual = str(actual)
            if (actual == value) != equal:
                return False
        return True


# --------------------------------------------------------------------------------------------
# Patches


def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# Merge keys of the lists kubectl's strategic merge patches touch (the real ones come from Go struct tags).
SMP_MERGE_KEYS = {"containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
                  "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
                  "imagePullSecrets": "name", "hostAliases": "ip", "conditions": "type", "taints": "key",
                  "topologySpreadConstraints": "topologyKey", "ownerReferences": "uid",
                  "resourceClaims": "name", "addresses": "type", "images": None}
SMP_MERGED_PRIMITIVE_LISTS = {"finalizers"}


def _smp_merge_key(field, items):
    if field == "ports":
        if all(isinstance(i, dict) and "containerPort" in i for i in items):
            return "containerPort"
        if all(isinstance(i, dict) and "port" in i for i in items):
            return "port"
        return None
    if field in SMP_MERGE_KEYS:
        return SMP_MERGE_KEYS[field]
    if items and all(isinstance(i, dict) and "name" in i for i in items):
        return "name"
    return None


def strategic_merge_patch(target, patch):
    """A strategic merge patch: a merge patch whose lists of objects merge by their merge key."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key == "$retainKeys" or key == "$patch":
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list):
                result[field] = [v for v in result[field] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list):
            result[key] = _smp_list(key, result.get(key), value)
        elif isinstance(value, dict):
            merged = strategic_merge_patch(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = value
    return result


def _smp_list(field, current, patch):
    if not isinstance(current, list):
        current = []
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    if field in SMP_MERGED_PRIMITIVE_LISTS:
        return current + [v for v in patch if v not in current]
    key = _smp_merge_key(field, [i for i in patch if not (isinstance(i, dict) and i.get("$patch"))] + current)
    if key is None:
        return copy.deepcopy(patch)
    result = list(current)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            continue
        index = next((n for n, e in enumerate(result) if isinstance(e, dict) and e.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if index is not None:
                result.pop(index)
        elif index is None:
            result.append(strategic_merge_patch({}, item))
        else:
            result[index] = strategic_merge_patch(result[index], item)
    return result


def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _resolve(doc, parts, path):
    node = doc
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: "
                                           f"jsonpatch: path {path!r} does not exist")
    return node


def json_patch(doc, operations):
    """RFC 6902: add, remove, replace, move, copy, test."""
    if not isinstance(operations, list):
        raise bad_request("json patch must be an array of operations")
    doc = copy.deepcopy(doc)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise bad_request(f"invalid json patch operation {op!r}")
        kind, path = op["op"], op["path"]
        parts = _pointer(path)

        def put(value, parts=parts, replace=False):
            nonlocal doc
            if not parts:
                doc = value
                return
            parent = _resolve(doc, parts[:-1], path)
            last = parts[-1]
            if isinstance(parent, dict):
                if replace and last not in parent:
                    _resolve(doc, parts, path)
                parent[last] = value
            elif isinstance(parent, list):
                if last == "-" and not replace:
                    parent.append(value)
                elif last.isdigit() and int(last) <= len(parent) - (1 if replace else 0):
                    if replace:
                        parent[int(last)] = value
                    else:
                        parent.insert(int(last), value)
                else:
                    _resolve(doc, parts, path)
            else:
                _resolve(doc, parts, path)

        def take(parts=parts, where=path):
            parent = _resolve(doc, parts[:-1], where)
            last = parts[-1]
            value = _resolve(doc, parts, where)
            if isinstance(parent, dict):
                del parent[last]
            else:
                parent.pop(int(last))
            return value

        if kind == "add":
            put(copy.deepcopy(op.get("value")))
        elif kind == "replace":
            put(copy.deepcopy(op.get("value")), replace=True)
        elif kind == "remove":
            if not parts:
                raise bad_request("cannot remove the document root")
            take()
        elif kind in ("move", "copy"):
            source = _pointer(op.get("from", ""))
            value = take(source, op.get("from")) if kind == "move" else copy.deepcopy(
                _resolve(doc, source, op.get("from")))
            put(value)
        elif kind == "test":
            if _resolve(doc, parts, path) != op.get("value"):
                raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our "
                                               f"request: testing value {path} failed")
        else:
            raise bad_request(f"unexpected json patch operation {kind!r}")
    return doc


def apply_merge(current, applied, previous):
    """Server-side apply, simplified: maps merge (the applied values win), lists are replaced, and
    fields this manager applied last time but no longer applies are removed."""
    if not isinstance(applied, dict):
        return copy.deepcopy(applied)
    result = dict(current) if isinstance(current, dict) else {}
    for key, value in applied.items():
        if value is None:
            result.pop(key, None)
        else:
            prev = previous.get(key) if isinstance(previous, dict) else None
            result[key] = apply_merge(result.get(key), value, prev)
    if isinstance(previous, dict):
        for key in previous:
            if key not in applied:
                result.pop(key, None)
    return result


# --------------------------------------------------------------------------------------------
# A small YAML subset (block mappings and sequences, plain and quoted scalars, flow scalars)
# for application/apply-patch+yaml bodies that are not JSON.


class YamlError(ValueError):
    pass


def parse_yaml(text):
    lines = []
    for raw in text.splitlines():
        if raw.strip() in ("---", "...") and not raw.startswith(" "):
            continue
        stripped = _strip_comment(raw).rstrip()
        if not stripped.strip():
            continue
        if "\t" in stripped[: len(stripped) - len(stripped.lstrip())]:
            raise YamlError("tabs are not allowed for indentation")
        lines.append((len(stripped) - len(stripped.lstrip()), stripped.lstrip()))
    if not lines:
        return None
    value, pos = _yaml_block(lines, 0, lines[0][0])
    if pos != len(lines):
        raise YamlError(f"unexpected content: {lines[pos][1]!r}")
    return value


def _strip_comment(line):
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def _yaml_block(lines, pos, indent):
    if lines[pos][1].startswith("- ") or lines[pos][1] == "-":
        return _yaml_sequence(lines, pos, indent)
    return _yaml_mapping(lines, pos, indent)


def _split_key(text):
    if text[:1] in "\"'":
        end = text.find(text[0], 1)
        if end < 0:
            raise YamlError(f"unterminated quoted key: {text!r}")
        key, rest = text[1:end], text[end + 1:]
        if not rest.startswith(":"):
            return None
        return key, rest[1:].strip()
    m = re.match(r"^([^:#{}\[\],]+?):(\s+|$)(.*)$", text)
    if not m:
        return None
    return m.group(1).strip(), m.group(3).strip()


def _yaml_mapping(lines, pos, indent):
    result = {}
    while pos < len(lines):
        ind, text = lines[pos]
        if ind < indent:
            break
        if ind > indent:
            raise YamlError(f"bad indentation at {text!r}")
        kv = _split_key(text)
        if kv is None:
            raise YamlError(f"expected 'key: value', got {text!r}")
        key, rest = kv
        pos += 1
        if rest in ("|", "|-", "|+", ">", ">-", ">+"):
            value, pos = _yaml_literal(lines, pos, indent, rest)
        elif rest:
            value = _yaml_scalar(rest)
        elif pos < len(lines) and (lines[pos][0] > indent or (lines[pos][0] == indent and
                                                             lines[pos][1].startswith("-"))):
            value, pos = _yaml_block(lines, pos, lines[pos][0])
        else:
            value = None
        result[key] = value
    return result, pos


def _yaml_sequence(lines, pos, indent):
    result = []
    while pos < len(lines):
        ind, text = lines[pos]
        if ind < indent or not (text.startswith("- ") or text == "-"):
            break
        if ind > indent:
            raise YamlError(f"bad indentation at {text!r}")
        rest = text[1:].strip()
        if not rest:
            pos += 1
            if pos < len(lines) and lines[pos][0] > indent:
                value, pos = _yaml_block(lines, pos, lines[pos][0])
            else:
                value = None
        elif _split_key(rest) is not None and not rest.startswith(("{", "[")):
            # "- key: value" starts a mapping indented to the key's column.
            inner = ind + (len(text) - len(rest))
            lines[pos] = (inner, rest)
            value, pos = _yaml_mapping(lines, pos, inner)
        else:
            value = _yaml_scalar(rest)
            pos += 1
        result.append(value)
    return result, pos


def _yaml_literal(lines, pos, indent, style):
    chunk = []
    block_indent = None
    # Literal lines were stripped of comments and blank lines by the line splitter; good enough
    # for the short strings clients send.
    while pos < len(lines) and lines[pos][0] > indent:
        ind, text = lines[pos]
        if block_indent is None:
            block_indent = ind
        chunk.append(" " * (ind - block_indent) + text)
        pos += 1
    joined = ("\n" if style.startswith("|") else " ").join(chunk)
    if not style.endswith("-"):
        joined += "\n"
    return joined, pos


def _yaml_flow(text):
    """A flow collection ({a: b, c: [d, "e"]}) on one line."""
    pos = 0

    def skip():
        nonlocal pos
        while pos < len(text) and text[pos] == " ":
            pos += 1

    def value():
        nonlocal pos
        skip()
        if pos >= len(text):
            raise YamlError(f"unterminated flow value {text!r}")
        ch = text[pos]
        if ch in "{[":
            close = "}" if ch == "{" else "]"
            pos += 1
            out = {} if ch == "{" else []
            skip()
            if pos < len(text) and text[pos] == close:
                pos += 1
                return out
            while True:
                if ch == "{":
                    key = value()
                    skip()
                    if pos >= len(text) or text[pos] != ":":
                        raise YamlError(f"expected ':' in {text!r}")
                    pos += 1
                    out[str(key)] = value()
                else:
                    out.append(value())
                skip()
                if pos < len(text) and text[pos] == ",":
                    pos += 1
                    continue
                if pos < len(text) and text[pos] == close:
                    pos += 1
                    return out
                raise YamlError(f"expected ',' or {close!r} in {text!r}")
        if ch == '"':
            decoder = json.JSONDecoder()
            result, end = decoder.raw_decode(text, pos)
            pos = end
            return result
        if ch == "'":
            end = pos + 1
            while True:
                end = text.find("'", end)
                if end < 0:
                    raise YamlError(f"unterminated string in {text!r}")
                if text[end + 1:end + 2] == "'":
                    end += 2
                    continue
                break
            result = text[pos + 1:end].replace("''", "'")
            pos = end + 1
            return result
        start = pos
        while pos < len(text) and text[pos] not in ",:}]" or (pos < len(text) and text[pos] == ":" and
                                                               text[pos + 1:pos + 2] not in (" ", "")):
            pos += 1
        return _yaml_scalar(text[start:pos].strip())

    result = value()
    skip()
    if pos != len(text):
        raise YamlError(f"unexpected text after the flow value in {text!r}")
    return result


def _yaml_scalar(text):
    if text.startswith(("{", "[")):
        return _yaml_flow(text)
    if text.startswith('"'):
        try:
            return json.loads(text)
        except ValueError:
            raise YamlError(f"unsupported double-quoted value {text!r}") from None
    if text.startswith("'"):
        if not text.endswith("'") or len(text) < 2:
            raise YamlError(f"unterminated string {text!r}")
        return text[1:-1].replace("''", "'")
    if text in ("null", "~", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if re.match(r"^[-+]?[0-9]+$", text):
        return int(text)
    if re.match(r"^[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$", text):
        return float(text)
    if text.startswith(("&", "*", "!", "%", "@", "`")):
        raise YamlError(f"unsupported YAML feature in {text!r}")
    return text


# --------------------------------------------------------------------------------------------
# Kubernetes protobuf bodies. client-go's typed clients (helm's release storage among them) send
# core/v1 objects as application/vnd.kubernetes.protobuf: the "k8s\0" magic, then a runtime.Unknown
# {typeMeta, raw}. Only the kinds those clients write are known here; replies are always JSON.

PROTO_SCHEMAS = {
    "ObjectMeta": {1: ("name", "string"), 2: ("generateName", "string"), 3: ("namespace", "string"),
                   4: ("selfLink", "string"), 5: ("uid", "string"), 6: ("resourceVersion", "string"),
                   7: ("generation", "int"), 8: ("creationTimestamp", "Time"), 9: ("deletionTimestamp", "Time"),
                   10: ("deletionGracePeriodSeconds", "int"), 11: ("labels", "map:string"),
                   12: ("annotations", "map:string"), 13: ("ownerReferences", "repeated:OwnerReference"),
                   14: ("finalizers", "repeated:string")},
    "OwnerReference": {1: ("kind", "string"), 3: ("name", "string"), 4: ("uid", "string"),
                       5: ("apiVersion", "string"), 6: ("controller", "bool"), 7: ("blockOwnerDeletion", "bool")},
    "Time": {1: ("seconds", "int"), 2: ("nanos", "int")},
    "Secret": {1: ("metadata", "ObjectMeta"), 2: ("data", "map:bytes"), 3: ("type", "string"),
               4: ("stringData", "map:string"), 5: ("immutable", "bool")},
    "ConfigMap": {1: ("metadata", "ObjectMeta"), 2: ("data", "map:string"), 3: ("binaryData", "map:bytes"),
                  4: ("immutable", "bool")},
    "Namespace": {1: ("metadata", "ObjectMeta"), 2: ("spec", "NamespaceSpec"), 3: ("status", "NamespaceStatus")},
    "NamespaceSpec": {1: ("finalizers", "repeated:string")},
    "NamespaceStatus": {1: ("phase", "string")},
    "ServiceAccount": {1: ("metadata", "ObjectMeta"), 4: ("automountServiceAccountToken", "bool")},
    "DeleteOptions": {1: ("gracePeriodSeconds", "int"), 2: ("preconditions", "Preconditions"),
                      3: ("orphanDependents", "bool"), 4: ("propagationPolicy", "string"),
                      5: ("dryRun", "repeated:string")},
    "Preconditions": {1: ("uid", "string"), 2: ("resourceVersion", "string")},
    "TypeMeta": {1: ("apiVersion", "string"), 2: ("kind", "string")},
    "Unknown": {1: ("typeMeta", "TypeMeta"), 2: ("raw", "rawbytes"), 3: ("contentEncoding", "string"),
                4: ("contentType", "string")},
}


class ProtoError(ValueError):
    pass


def _proto_fields(data):
    """Yields (field number, wire type, value) of one protobuf message."""
    pos = 0

    def varint():
        nonlocal pos
        result = shift = 0
        while True:
            if pos >= len(data):
                raise ProtoError("truncated varint")
            b = data[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    while pos < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            yield number, wire, varint()
        elif wire == 2:
            length = varint()
            if pos + length > len(data):
                raise ProtoError("truncated field")
            yield number, wire, data[pos:pos + length]
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ProtoError(f"unsupported wire type {wire}")


def _proto_message(data, schema_name):
    schema = PROTO_SCHEMAS[schema_name]
    out = {}
    for number, wire, value in _proto_fields(data):
        if number not in schema:
            continue  # a field we do not model (managedFields, ...)
        name, kind = schema[number]
        if kind == "string":
            out[name] = value.decode("utf-8")
        elif kind == "rawbytes":
            out[name] = value
        elif kind == "int":
            out[name] = value - (1 << 64) if value >= 1 << 63 else value
        elif kind == "bool":
            out[name] = bool(value)
        elif kind.startswith("map:"):
            entry = {n: v for n, _, v in _proto_fields(value)}
            key = entry.get(1, b"").decode("utf-8")
            raw = entry.get(2, b"")
            out.setdefault(name, {})[key] = (base64.b64encode(raw).decode() if kind == "map:bytes"
                                             else raw.decode("utf-8"))
        elif kind.startswith("repeated:"):
            item = kind.split(":", 1)[1]
            out.setdefault(name, []).append(value.decode("utf-8") if item == "string"
                                            else _proto_message(value, item))
        elif kind == "Time":
            seconds = _proto_message(value, "Time").get("seconds", 0)
            if seconds:
                out[name] = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime(
                    "%Y-%m-%dT%H:%M:%SZ")
        else:
            out[name] = _proto_message(value, kind)
    # gogo-protobuf writes every scalar; JSON leaves zero values out (omitempty).
    return {k: v for k, v in out.items() if v not in ("", 0, {}, []) or isinstance(v, bool) and v}


def decode_protobuf(body):
    if not body.startswith(b"k8s\x00"):
        raise ProtoError("missing the k8s protobuf magic")
    envelope = _proto_message(body[4:], "Unknown")
    type_meta = envelope.get("typeMeta") or {}
    kind = type_meta.get("kind", "")
    if kind not in PROTO_SCHEMAS or kind in ("ObjectMeta", "TypeMeta", "Unknown", "Time"):
        raise ProtoError(f"this fake cannot decode protobuf {type_meta.get('apiVersion')}/{kind}; send JSON")
    obj = _proto_message(envelope.get("raw", b""), kind)
    if kind != "DeleteOptions":
        obj = dict({"apiVersion": type_meta.get("apiVersion", "v1"), "kind": kind}, **obj)
        obj.setdefault("metadata", {})
    return obj


# --------------------------------------------------------------------------------------------
# The store


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def encode(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


class Event:
    """One change, kept serialized: a dict tree costs several times the JSON, and a history of
    100,000 node updates must fit in memory. Watchers without selectors send `data` as is."""
    __slots__ = ("rv", "storage", "key", "type", "data", "old_data", "api_version")

    def __init__(self, rv, storage, key, etype, data, old_data, api_version):
        self.rv = rv
        self.storage = storage
        self.key = key
        self.type = etype
        self.data = data  # the object at this event (a deleted one at the deletion's resourceVersion)
        self.old_data = old_data  # the object before it (None for ADDED)
        self.api_version = api_version

    @property
    def obj(self):
        return json.loads(self.data)

    @property
    def old(self):
        return None if self.old_data is None else json.loads(self.old_data)


def object_key(namespace, name):
    return f"{namespace}/{name}" if namespace else name


def without_rv(obj):
    meta = dict(obj.get("metadata") or {})
    meta.pop("resourceVersion", None)
    return dict(obj, metadata=meta)


def spec_part(obj, rtype):
    skip = {"metadata", "status"} if rtype.status_subresource or not rtype.custom else {"metadata"}
    return {k: v for k, v in obj.items() if k not in skip}


class Store:
    def __init__(self, history, bookmark_interval_ms, token):
        self.cond = threading.Condition(threading.Lock())
        self.rv = 0
        self.compacted_rv = 0
        self.history = max(1, history)
        self.bookmark_interval = bookmark_interval_ms / 1000.0
        self.events = []
        self.objects = {}  # storage (group, plural) -> {key: object}
        self.encoded = {}  # storage -> {key: the object's JSON}, the "old" side of the next event
        self.types = {}  # (group, version, plural) -> ResourceType
        self.types_generation = 0
        self.applied = {}  # (storage, key, fieldManager) -> last applied configuration
        self.drop_generation = 0
        self.watches_open = 0
        self.watches_started = 0
        self.requests = 0
        self.request_log = []
        self.hang_ms = 0
        self.token = token
        self.next_cluster_ip = 10
        for rtype in builtin_types():
            self._register(rtype)
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.create(self.type_for("", "v1", "namespaces"), None,
                        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})

    # ---- types

    def _register(self, rtype):
        self.types[(rtype.group, rtype.version, rtype.plural)] = rtype
        self.objects.setdefault(rtype.storage, {})
        self.encoded.setdefault(rtype.storage, {})
        self.types_generation += 1

    def type_for(self, group, version, plural):
        return self.types.get((group, version, plural))

    def type_for_kind(self, api_version, kind):
        group, _, version = api_version.rpartition("/")
        for rtype in self.types.values():
            if rtype.group == group and rtype.version == version and rtype.kind == kind:
                return rtype
        return None

    def group_versions(self):
        """{group: [versions, preferred first]}; the core group is ""."""
        groups = {}
        for group, version, _ in self.types:
            groups.setdefault(group, set()).add(version)
        return {g: sorted(vs, key=version_priority, reverse=True) for g, vs in groups.items()}

    def resources_of(self, group, version):
        return sorted((t for t in self.types.values() if t.group == group and t.version == version),
                      key=lambda t: t.plural)

    def _crd_types(self, crd):
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        out = []
        for v in spec.get("versions") or []:
            if not v.get("served", True):
                continue
            out.append(ResourceType(
                spec["group"], v["name"], names["plural"], names.get("singular") or names["kind"].lower(),
                names["kind"], spec.get("scope", "Namespaced") == "Namespaced", names.get("shortNames") or [],
                names.get("categories") or [], status_subresource="status" in (v.get("subresources") or {}),
                status_on_create="drop", has_generation=True, custom=True,
                scale=(v.get("subresources") or {}).get("scale")))
        return out

    def _crd_changed(self, old, new):
        if old is not None:
            for rtype in self._crd_types(old):
                self.types.pop((rtype.group, rtype.version, rtype.plural), None)
            self.types_generation += 1
        if new is not None:
            for rtype in self._crd_types(new):
                self._register(rtype)
        elif old is not None:
            spec = old.get("spec") or {}
            storage = (spec.get("group"), (spec.get("names") or {}).get("plural"))
            for key in sorted(self.objects.get(storage, {})):
                obj = self.objects[storage][key]
                self._commit_delete(storage, key, obj)
            self.objects.pop(storage, None)
            self.encoded.pop(storage, None)

    # ---- history

    def _commit(self, storage, key, etype, obj, old):
        """Records one change: a new resourceVersion and one event. `obj` is a fresh dict we own."""
        self.rv += 1
        meta = dict(obj.get("metadata") or {})
        meta["resourceVersion"] = str(self.rv)
        obj = dict(obj, metadata=meta)
        data = encode(obj)
        old_data = self.encoded[storage].get(key) if old is not None else None
        if old is not None and old_data is None:
            old_data = encode(old)
        if etype == "DELETED":
            self.objects[storage].pop(key, None)
            self.encoded[storage].pop(key, None)
            for applied_key in [k for k in self.applied if k[0] == storage and k[1] == key]:
                del self.applied[applied_key]
        else:
            self.objects[storage][key] = obj
            self.encoded[storage][key] = data
        self.events.append(Event(self.rv, storage, key, etype, data, old_data, obj.get("apiVersion")))
        if len(self.events) > self.history + max(1, self.history // 8):
            drop = len(self.events) - self.history
            self.compacted_rv = self.events[drop - 1].rv
            del self.events[:drop]
        if storage == ("apiextensions.k8s.io", "customresourcedefinitions"):
            self._crd_changed(old, None if etype == "DELETED" else obj)
        self.cond.notify_all()
        return obj

    def _commit_delete(self, storage, key, obj):
        return self._commit(storage, key, "DELETED", obj, obj)

    def compact(self):
        with self.cond:
            self.compacted_rv = self.rv
            self.events = []
            self.cond.notify_all()
            return self.rv

    def drop_watches(self):
        with self.cond:
            self.drop_generation += 1
            opened = self.watches_open
            self.cond.notify_all()
            return opened

    def snapshot(self, storage, rv):
        """The objects of one resource as they were at `rv` (rolled back through the history)."""
        objects = dict(self.objects.get(storage, {}))
        start = bisect.bisect_right(self.events, rv, key=lambda e: e.rv)
        for ev in reversed(self.events[start:]):
            if ev.storage != storage:
                continue
            if ev.type == "ADDED":
                objects.pop(ev.key, None)
            else:
                objects[ev.key] = ev.old
        return objects

    # ---- validation helpers

    def _check_namespace(self, rtype, ns):
        if rtype.namespaced and object_key(None, ns) not in self.objects[("", "namespaces")]:
            raise namespace_not_found(ns)

    @staticmethod
    def _check_body(rtype, obj, ns, url_name=None):
        if not isinstance(obj, dict):
            raise bad_request("the body of the request must be a JSON object")
        if not obj.get("kind"):
            raise bad_request(f"Object 'Kind' is missing in '{json.dumps(obj)[:200]}'")
        if not obj.get("apiVersion"):
            raise bad_request(f"Object 'apiVersion' is missing in '{json.dumps(obj)[:200]}'")
        meta = obj.get("metadata")
        if meta is not None and not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        meta = meta or {}
        name = meta.get("name") or ""
        causes = []
        if obj["kind"] != rtype.kind:
            causes.append(("kind", "FieldValueInvalid",
                           f'Invalid value: "{obj["kind"]}": must be {rtype.kind} for {rtype.path_prefix()}'))
        if obj["apiVersion"] != rtype.api_version:
            causes.append(("apiVersion", "FieldValueInvalid",
                           f'Invalid value: "{obj["apiVersion"]}": must be {rtype.api_version}'))
        if causes:
            raise invalid(rtype.kind, rtype.group, name, causes)
        body_ns = meta.get("namespace")
        if rtype.namespaced and body_ns and body_ns != ns:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the "
                              "request")
        if url_name is not None and name and name != url_name:
            raise bad_request(f"the name of the object ({name}) does not match the name on the URL ({url_name})")

    @staticmethod
    def _check_name(rtype, name):
        if not name:
            raise invalid(rtype.kind, rtype.group, "", [("metadata.name", "FieldValueRequired",
                                                         "Required value: name or generateName is required")])
        if rtype.name_rule == "label":
            ok = len(name) <= 63 and DNS1123_LABEL.match(name)
            why = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
                   "must start and end with an alphanumeric character")
        else:
            ok = len(name) <= 253 and DNS1123_SUBDOMAIN.match(name)
            why = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
                   "'.', and must start and end with an alphanumeric character")
        if not ok:
            raise invalid(rtype.kind, rtype.group, name,
                          [("metadata.name", "FieldValueInvalid", f'Invalid value: "{name}": {why}')])

    def _check_crd(self, obj):
        spec = obj.get("spec") or {}
        names = spec.get("names") or {}
        name = obj["metadata"]["name"]
        causes = []
        if not spec.get("group"):
            causes.append(("spec.group", "FieldValueRequired", "Required value"))
        if not names.get("plural") or not names.get("kind"):
            causes.append(("spec.names", "FieldValueRequired", "Required value: plural and kind"))
        if spec.get("scope") not in ("Namespaced", "Cluster"):
            causes.append(("spec.scope", "FieldValueNotSupported",
                           'Unsupported value: must be "Namespaced" or "Cluster"'))
        versions = spec.get("versions") or []
        if not versions or not all(isinstance(v, dict) and v.get("name") for v in versions):
            causes.append(("spec.versions", "FieldValueRequired", "Required value: at least one named version"))
        elif sum(1 for v in versions if v.get("storage")) != 1:
            causes.append(("spec.versions", "FieldValueInvalid",
                           "Invalid value: must have exactly one version marked as storage version"))
        if not causes and name != f"{names['plural']}.{spec['group']}":
            causes.append(("metadata.name", "FieldValueInvalid",
                           f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group'))
        if causes:
            raise invalid("CustomResourceDefinition", "apiextensions.k8s.io", name, causes)
        if not causes:
            for v in versions:
                if self.type_for(spec["group"], v["name"], names["plural"]) and \
                        object_key(None, name) not in self.objects[("apiextensions.k8s.io",
                                                                    "customresourcedefinitions")]:
                    raise invalid("CustomResourceDefinition", "apiextensions.k8s.io", name,
                                  [("spec.names.plural", "FieldValueInvalid", "Invalid value: already served")])

    # ---- operations (called with the lock NOT held)

    def get(self, rtype, ns, name):
        with self.cond:
            obj = self.objects[rtype.storage].get(object_key(ns if rtype.namespaced else None, name))
        if obj is None:
            raise not_found(rtype, name)
        return obj

    def matching(self, rtype, ns, labels, fields, objects=None):
        objects = self.objects[rtype.storage] if objects is None else objects
        name = fields.single_name() if fields else None
        if name is not None and (ns or not rtype.namespaced):
            obj = objects.get(object_key(ns if rtype.namespaced else None, name))
            candidates = [(object_key(ns, name), obj)] if obj is not None else []
        else:
            prefix = ns + "/" if (ns and rtype.namespaced) else ""
            candidates = [(k, o) for k, o in objects.items() if k.startswith(prefix)]
        return [(k, o) for k, o in candidates if labels.matches(o) and fields.matches(o)]

    def list(self, rtype, ns, labels, fields, limit, token, exact_rv=None):
        """One page of a LIST; `exact_rv` is resourceVersionMatch=Exact (a snapshot from the history)."""
        start_after = ""
        with self.cond:
            if exact_rv is not None and not token:
                if exact_rv < self.compacted_rv:
                    raise expired(f"too old resource version: {exact_rv} ({self.compacted_rv})")
                if exact_rv > self.rv:
                    raise ApiError(504, "Timeout", f"Too large resource version: {exact_rv}, current: {self.rv}",
                                   {"causes": [{"reason": "ResourceVersionTooLarge",
                                                "message": "Too large resource version"}], "retryAfterSeconds": 1})
                list_rv = exact_rv
                objects = self.snapshot(rtype.storage, exact_rv)
            elif token:
                try:
                    decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
                    list_rv, start_after = int(decoded["rv"]), decoded["start"]
                except (ValueError, KeyError, TypeError):
                    raise bad_request("continue key is not valid") from None
                if list_rv < self.compacted_rv:
                    raise expired("The provided continue parameter is too old to display a consistent list "
                                  "result. You can start a new list without the continue parameter, or use the "
                                  "continue token in this response to retrieve the remainder of the results. "
                                  "Continuing with the provided token results in an inconsistent list - objects "
                                  "that were created, modified, or deleted between the time the first chunk was "
                                  "returned and now may show up in the list.")
                objects = self.snapshot(rtype.storage, list_rv)
            else:
                list_rv = self.rv
                objects = self.objects[rtype.storage]
            pairs = self.matching(rtype, ns, labels, fields, objects)
        pairs.sort(key=lambda kv: kv[0])
        if start_after:
            pairs = pairs[bisect.bisect_left(pairs, start_after, key=lambda kv: kv[0]):]
        meta = {"resourceVersion": str(list_rv)}
        if limit and len(pairs) > limit:
            last_key = pairs[limit - 1][0]
            meta["continue"] = base64.urlsafe_b64encode(json.dumps(
                {"v": "meta.k8s.io/v1", "rv": list_rv, "start": last_key + "\x00"}).encode()).decode().rstrip("=")
            meta["remainingItemCount"] = len(pairs) - limit
            pairs = pairs[:limit]
        return [o for _, o in pairs], meta

    def _new_object(self, rtype, ns, obj):
        meta = dict(obj.get("metadata") or {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        name = meta.get("name") or ""
        self._check_name(rtype, name)
        if rtype.namespaced:
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        for field in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink",
                      "managedFields"):
            meta.pop(field, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        if rtype.has_generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        obj = dict(copy.deepcopy(obj), metadata=meta)
        if rtype.status_subresource:
            if rtype.status_on_create == "drop":
                obj.pop("status", None)
            elif rtype.status_on_create == "pending":
                obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        if rtype.kind == "Namespace":
            obj["spec"] = obj.get("spec") or {"finalizers": ["kubernetes"]}
            obj["status"] = {"phase": "Active"}
            meta["labels"] = dict(meta.get("labels") or {}, **{"kubernetes.io/metadata.name": name})
        elif rtype.kind == "Service":
            spec = obj.setdefault("spec", {})
            spec.setdefault("type", "ClusterIP")
            if spec["type"] in ("ClusterIP", "NodePort", "LoadBalancer") and not spec.get("clusterIP"):
                self.next_cluster_ip += 1
                ip = f"10.96.{self.next_cluster_ip // 250}.{self.next_cluster_ip % 250 + 1}"
                spec["clusterIP"] = ip
                spec["clusterIPs"] = [ip]
            obj["status"] = {"loadBalancer": {}}
        elif rtype.kind == "CustomResourceDefinition":
            spec = obj.get("spec") or {}
            obj["status"] = {
                "acceptedNames": spec.get("names") or {},
                "storedVersions": [v.get("name") for v in spec.get("versions") or [] if v.get("storage")],
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                     "message": "no conflicts found", "lastTransitionTime": meta["creationTimestamp"]},
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                     "message": "the initial names have been accepted",
                     "lastTransitionTime": meta["creationTimestamp"]}]}
        elif rtype.kind == "Secret":
            obj.setdefault("type", "Opaque")
        return obj

    def create(self, rtype, ns, obj, dry_run=False):
        self._check_body(rtype, obj, ns)
        with self.cond:
            obj = self._new_object(rtype, ns, obj)
            if rtype.kind == "CustomResourceDefinition":
                self._check_crd(obj)
            if rtype.namespaced:
                self._check_namespace(rtype, ns)
            key = object_key(ns if rtype.namespaced else None, obj["metadata"]["name"])
            if key in self.objects[rtype.storage]:
                raise already_exists(rtype, obj["metadata"]["name"])
            if dry_run:
                return obj
            return self._commit(rtype.storage, key, "ADDED", obj, None)

    def _replace(self, rtype, key, current, new, subresource, dry_run):
        """Turns `new` into the stored successor of `current` (server-owned fields kept)."""
        if subresource == "status":
            result = dict(current)
            if "status" in new:
                result["status"] = copy.deepcopy(new["status"])
            else:
                result.pop("status", None)
        else:
            result = copy.deepcopy(new)
            if rtype.status_subresource:
                if "status" in current:
                    result["status"] = current["status"]
                else:
                    result.pop("status", None)
        meta = dict(result.get("metadata") or {})
        old_meta = current["metadata"]
        for field in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
                      "deletionGracePeriodSeconds", "generation"):
            if field in old_meta:
                meta[field] = old_meta[field]
            else:
                meta.pop(field, None)
        meta.pop("managedFields", None)
        meta.pop("selfLink", None)
        result["metadata"] = meta
        result["apiVersion"], result["kind"] = current["apiVersion"], current["kind"]
        if rtype.kind == "Namespace":
            meta["labels"] = dict(meta.get("labels") or {}, **{"kubernetes.io/metadata.name": meta["name"]})
        if rtype.has_generation and subresource != "status" and spec_part(result, rtype) != spec_part(current,
                                                                                                      rtype):
            meta["generation"] = int(old_meta.get("generation") or 0) + 1
        if without_rv(result) == without_rv(current):
            return current  # a no-op update: no new resourceVersion, no event
        if dry_run:
            return dict(result, metadata=dict(meta, resourceVersion=old_meta.get("resourceVersion")))
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            return self._commit(rtype.storage, key, "DELETED", result, current)
        if rtype.kind == "CustomResourceDefinition":
            self._check_crd(result)
        return self._commit(rtype.storage, key, "MODIFIED", result, current)

    def update(self, rtype, ns, name, obj, subresource=None, dry_run=False):
        self._check_body(rtype, obj, ns, name)
        key = object_key(ns if rtype.namespaced else None, name)
        with self.cond:
            current = self.objects[rtype.storage].get(key)
            if current is None:
                raise not_found(rtype, name)
            rv = (obj.get("metadata") or {}).get("resourceVersion")
            if rv and rv != current["metadata"]["resourceVersion"]:
                raise conflict(rtype, name)
            return self._replace(rtype, key, current, obj, subresource, dry_run)

    def patch(self, rtype, ns, name, patch_type, body, subresource=None, dry_run=False, field_manager=None):
        key = object_key(ns if rtype.namespaced else None, name)
        with self.cond:
            current = self.objects[rtype.storage].get(key)
            if patch_type == "apply":
                return self._apply(rtype, ns, name, key, current, body, subresource, dry_run, field_manager)
            if current is None:
                raise not_found(rtype, name)
            if patch_type == "merge":
                if not isinstance(body, dict):
                    raise bad_request("a merge patch must be a JSON object")
                patched = merge_patch(current, body)
            elif patch_type == "strategic":
                if not isinstance(body, dict):
                    raise bad_request("a strategic merge patch must be a JSON object")
                patched = strategic_merge_patch(current, body)
            else:
                patched = json_patch(current, body)
            if not isinstance(patched, dict):
                raise bad_request("the patched object is not a JSON object")
            rv = (patched.get("metadata") or {}).get("resourceVersion")
            if rv and rv != current["metadata"]["resourceVersion"]:
                raise conflict(rtype, name)
            meta = patched.get("metadata") or {}
            if meta.get("name") != name or (rtype.namespaced and meta.get("namespace") != ns):
                raise invalid(rtype.kind, rtype.group, name, [("metadata.name", "FieldValueInvalid",
                                                               "Invalid value: field is immutable")])
            if patched.get("kind") != rtype.kind or patched.get("apiVersion") != current["apiVersion"]:
                raise invalid(rtype.kind, rtype.group, name, [("kind", "FieldValueInvalid",
                                                               "Invalid value: field is immutable")])
            return self._replace(rtype, key, current, patched, subresource, dry_run)

    def _apply(self, rtype, ns, name, key, current, body, subresource, dry_run, field_manager):
        self._check_body(rtype, body, ns, name)
        if not (body.get("metadata") or {}).get("name"):
            body = dict(body, metadata=dict(body.get("metadata") or {}, name=name))
        applied_key = (rtype.storage, key, field_manager)
        if current is None:
            if subresource:
                raise not_found(rtype, name)
            obj = self._new_object(rtype, ns, body)
            if rtype.kind == "CustomResourceDefinition":
                self._check_crd(obj)
            self._check_namespace(rtype, ns)
            if dry_run:
                return obj, True
            stored = self._commit(rtype.storage, key, "ADDED", obj, None)
            self.applied[applied_key] = copy.deepcopy(body)
            return stored, True
        rv = (body.get("metadata") or {}).get("resourceVersion")
        if rv and rv != current["metadata"]["resourceVersion"]:
            raise conflict(rtype, name)
        previous = self.applied.get(applied_key, {})
        if subresource == "status":
            merged = dict(current, status=apply_merge(current.get("status"), body.get("status") or {},
                                                      (previous or {}).get("status")))
        else:
            merged = apply_merge(current, {k: v for k, v in body.items() if k != "status" or
                                           not rtype.status_subresource}, previous)
        merged.setdefault("metadata", {})
        result = self._replace(rtype, key, current, merged, subresource, dry_run)
        if not dry_run:
            self.applied[applied_key] = copy.deepcopy(body)
        return result, False

    @staticmethod
    def _scale_of(rtype, obj):
        def get(path):
            node = obj
            for part in (path or "").strip(".").split("."):
                node = node.get(part) if isinstance(node, dict) and part else None
            return node
        selector = get(rtype.scale.get("labelSelectorPath"))
        if isinstance(selector, dict):  # a LabelSelector (deployments) is shown in its string form
            terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
            for expr in selector.get("matchExpressions") or []:
                op = {"In": "in", "NotIn": "notin"}.get(expr.get("operator"))
                key = expr.get("key", "")
                if op:
                    terms.append(f"{key} {op} ({','.join(expr.get('values') or [])})")
                else:
                    terms.append(key if expr.get("operator") == "Exists" else "!" + key)
            selector = ",".join(terms)
        meta = obj["metadata"]
        status = {"replicas": int(get(rtype.scale.get("statusReplicasPath")) or 0)}
        if selector:
            status["selector"] = selector
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                             if k in meta},
                "spec": {"replicas": int(get(rtype.scale["specReplicasPath"]) or 0)}, "status": status}

    def scale(self, rtype, ns, name, patch_type=None, body=None, dry_run=False):
        """GET (patch_type None), PUT ("replace") or PATCH the scale subresource."""
        key = object_key(ns if rtype.namespaced else None, name)
        with self.cond:
            current = self.objects[rtype.storage].get(key)
            if current is None:
                raise not_found(rtype, name)
            scale = self._scale_of(rtype, current)
            if patch_type is None:
                return scale
            if patch_type == "replace":
                new = body
            elif patch_type == "json":
                new = json_patch(scale, body)
            elif patch_type in ("merge", "strategic", "apply"):
                new = merge_patch(scale, body)
            if not isinstance(new, dict) or not isinstance((new.get("spec") or {}).get("replicas"), int):
                raise invalid("Scale", "autoscaling", name, [("spec.replicas", "FieldValueRequired",
                                                                "Required value: an integer")])
            if new["spec"]["replicas"] < 0:
                raise invalid("Scale", "autoscaling", name, [("spec.replicas", "FieldValueInvalid",
                                                                "Invalid value: must be greater than or equal to 0")])
            rv = (new.get("metadata") or {}).get("resourceVersion")
            if rv and rv != current["metadata"]["resourceVersion"]:
                raise conflict(rtype, name)
            updated = copy.deepcopy(current)
            node = updated
            parts = rtype.scale["specReplicasPath"].strip(".").split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = new["spec"]["replicas"]
            return self._scale_of(rtype, self._replace(rtype, key, current, updated, None, dry_run))

    def delete(self, rtype, ns, name, options=None, dry_run=False):
        key = object_key(ns if rtype.namespaced else None, name)
        with self.cond:
            current = self.objects[rtype.storage].get(key)
            if current is None:
                raise not_found(rtype, name)
            pre = (options or {}).get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != current["metadata"].get("uid"):
                raise conflict(rtype, name, f"Precondition failed: UID in precondition: {pre['uid']}, UID in "
                                            f"object meta: {current['metadata'].get('uid')}")
            if pre.get("resourceVersion") and pre["resourceVersion"] != current["metadata"]["resourceVersion"]:
                raise conflict(rtype, name, f"Precondition failed: ResourceVersion in precondition: "
                                            f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                                            f"{current['metadata']['resourceVersion']}")
            if dry_run:
                return current
            if current["metadata"].get("finalizers"):
                if current["metadata"].get("deletionTimestamp"):
                    return current
                meta = dict(current["metadata"], deletionTimestamp=now_rfc3339(), deletionGracePeriodSeconds=0)
                return self._commit(rtype.storage, key, "MODIFIED", dict(current, metadata=meta), current)
            if rtype.kind == "Namespace":
                for storage, objects in self.objects.items():
                    for k in [k for k in objects if k.startswith(name + "/")]:
                        self._commit_delete(storage, k, objects[k])
            return self._commit_delete(rtype.storage, key, current)

    def delete_collection(self, rtype, ns, labels, fields, dry_run=False):
        with self.cond:
            pairs = self.matching(rtype, ns, labels, fields)
            if dry_run:
                return [o for _, o in pairs]
        deleted = []
        for _, obj in sorted(pairs, key=lambda kv: kv[0]):
            try:
                deleted.append(self.delete(rtype, ns, obj["metadata"]["name"]))
            except ApiError:
                pass  # gone meanwhile
        return deleted

    def bulk(self, objects):
        """Creates or replaces many objects at once (one event each); validates them all first."""
        if not isinstance(objects, list):
            raise bad_request("objects must be an array")
        with self.cond:
            plans = []
            for obj in objects:
                if not isinstance(obj, dict):
                    raise bad_request("every object must be a JSON object")
                rtype = self.type_for_kind(obj.get("apiVersion", ""), obj.get("kind", ""))
                if rtype is None:
                    raise bad_request(f"no resource for apiVersion {obj.get('apiVersion')!r} kind "
                                      f"{obj.get('kind')!r}")
                meta = obj.get("metadata") or {}
                ns = meta.get("namespace") or ("default" if rtype.namespaced else None)
                self._check_name(rtype, meta.get("name") or "")
                if rtype.namespaced:
                    self._check_namespace(rtype, ns)
                plans.append((rtype, ns, obj))
            created = replaced = 0
            for rtype, ns, obj in plans:
                key = object_key(ns, obj["metadata"]["name"])
                current = self.objects[rtype.storage].get(key)
                fresh = dict(obj)  # parsed from this request's body: nobody else holds it
                meta = dict(fresh.get("metadata") or {})
                if rtype.namespaced:
                    meta["namespace"] = ns
                else:
                    meta.pop("namespace", None)
                if current is None:
                    meta["uid"] = str(uuid.uuid4())
                    meta["creationTimestamp"] = now_rfc3339()
                    if rtype.has_generation:
                        meta["generation"] = 1
                    fresh["metadata"] = meta
                    self._commit(rtype.storage, key, "ADDED", fresh, None)
                    created += 1
                else:
                    for field in ("uid", "creationTimestamp"):
                        meta[field] = current["metadata"][field]
                    if rtype.has_generation:
                        meta["generation"] = int(current["metadata"].get("generation") or 0) + 1
                    fresh["metadata"] = meta
                    self._commit(rtype.storage, key, "MODIFIED", fresh, current)
                    replaced += 1
            return {"created": created, "replaced": replaced, "resourceVersion": str(self.rv)}


# --------------------------------------------------------------------------------------------
# Discovery, OpenAPI and Tables


def api_resource(rtype):
    out = {"name": rtype.plural, "singularName": rtype.singular, "namespaced": rtype.namespaced,
           "kind": rtype.kind, "verbs": rtype.verbs}
    if rtype.short_names:
        out["shortNames"] = rtype.short_names
    if rtype.categories:
        out["categories"] = rtype.categories
    out["storageVersionHash"] = base64.b64encode(f"{rtype.group}/{rtype.kind}".encode()).decode()[:11]
    return out


def api_resource_list(store, group, version):
    resources = []
    for rtype in store.resources_of(group, version):
        resources.append(api_resource(rtype))
        if rtype.status_subresource:
            resources.append({"name": rtype.plural + "/status", "singularName": "", "namespaced": rtype.namespaced,
                              "kind": rtype.kind, "verbs": STATUS_VERBS})
        if rtype.scale:
            resources.append({"name": rtype.plural + "/scale", "singularName": "", "namespaced": rtype.namespaced,
                              "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": STATUS_VERBS})
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version, "resources": resources}


def api_group(group, versions):
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def aggregated_discovery(store, legacy):
    items = []
    for group, versions in sorted(store.group_versions().items()):
        if (group == "") != legacy:
            continue
        entries = []
        for version in versions:
            resources = []
            for rtype in store.resources_of(group, version):
                resource = {"resource": rtype.plural,
                            "responseKind": {"group": group, "version": version, "kind": rtype.kind},
                            "scope": "Namespaced" if rtype.namespaced else "Cluster",
                            "singularResource": rtype.singular, "verbs": rtype.verbs}
                if rtype.short_names:
                    resource["shortNames"] = rtype.short_names
                if rtype.categories:
                    resource["categories"] = rtype.categories
                subresources = []
                if rtype.status_subresource:
                    subresources.append({"subresource": "status", "responseKind": resource["responseKind"],
                                         "verbs": STATUS_VERBS})
                if rtype.scale:
                    subresources.append({"subresource": "scale", "verbs": STATUS_VERBS, "responseKind": {
                        "group": "autoscaling", "version": "v1", "kind": "Scale"}})
                if subresources:
                    resource["subresources"] = subresources
                resources.append(resource)
            entries.append({"version": version, "resources": resources, "freshness": "Current"})
        items.append({"metadata": {"name": group} if group else {}, "versions": entries})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
            "items": items}


def openapi_v3_index(store):
    paths = {}
    for group, versions in store.group_versions().items():
        for version in versions:
            path = f"apis/{group}/{version}" if group else f"api/{version}"
            paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={store.types_generation:016X}"}
    return {"paths": paths}


def openapi_v3_document(store, group, version):
    """Just enough OpenAPI v3 for clients to see that PATCH takes fieldValidation (so kubectl and helm
    leave schema validation to the server) and fieldManager/force (server-side apply)."""
    params = [{"name": name, "in": "query", "schema": {"type": "string"}, "uniqueItems": True}
              for name in ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")]
    paths = {}
    for rtype in store.resources_of(group, version):
        prefix = rtype.path_prefix() + ("/namespaces/{namespace}" if rtype.namespaced else "")
        gvk = {"group": group, "version": version, "kind": rtype.kind}
        operation = {"operationId": f"patch{rtype.kind}", "parameters": params,
                     "responses": {"200": {"description": "OK"}}, "x-kubernetes-action": "patch",
                     "x-kubernetes-group-version-kind": gvk}
        paths[f"{prefix}/{rtype.plural}/{{name}}"] = {"patch": operation}
        if rtype.status_subresource:
            paths[f"{prefix}/{rtype.plural}/{{name}}/status"] = {"patch": dict(operation,
                                                                               operationId=f"patch{rtype.kind}Status")}
        if rtype.scale:
            paths[f"{prefix}/{rtype.plural}/{{name}}/scale"] = {"patch": dict(
                operation, operationId=f"patch{rtype.kind}Scale",
                **{"x-kubernetes-group-version-kind": {"group": "autoscaling", "version": "v1", "kind": "Scale"}})}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes (o2gw fake)", "version": KUBE_VERSION["gitVersion"]},
            "paths": paths, "components": {"schemas": {}}}


def human_age(timestamp):
    try:
        created = datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return "<unknown>"
    s = max(0, int((datetime.datetime.now(datetime.timezone.utc) - created).total_seconds()))
    if s < 120:
        return f"{s}s"
    if s < 600:
        return f"{s // 60}m{s % 60}s" if s % 60 else f"{s // 60}m"
    if s < 3 * 3600:
        return f"{s // 60}m"
    if s < 8 * 3600:
        return f"{s // 3600}h{(s % 3600) // 60}m" if (s % 3600) // 60 else f"{s // 3600}h"
    if s < 48 * 3600:
        return f"{s // 3600}h"
    if s < 8 * 86400:
        return f"{s // 86400}d{(s % 86400) // 3600}h" if (s % 86400) // 3600 else f"{s // 86400}d"
    if s < 730 * 86400:
        return f"{s // 86400}d"
    return f"{s // (365 * 86400)}y"


def _node_row(obj):
    status = obj.get("status") or {}
    ready = next((c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    state = "Ready" if ready == "True" else ("NotReady" if ready in ("False",) else "Unknown")
    if (obj.get("spec") or {}).get("unschedulable"):
        state += ",SchedulingDisabled"
    labels = (obj.get("metadata") or {}).get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/") and "/" in k)
    info = status.get("nodeInfo") or {}
    addresses = status.get("addresses") or []
    address = lambda kind: next((a.get("address") for a in addresses if a.get("type") == kind), "<none>")  # noqa
    return [state, ",".join(roles) or "<none>", info.get("kubeletVersion", ""), address("InternalIP"),
            address("ExternalIP"), info.get("osImage", "<unknown>"), info.get("kernelVersion", "<unknown>"),
            info.get("containerRuntimeVersion", "<unknown>")]


def _pod_row(obj):
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    containers = spec.get("containers") or []
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount") or 0) for c in statuses)
    return [f"{ready}/{len(containers)}", status.get("phase", "Unknown"), restarts, status.get("podIP", "<none>"),
            spec.get("nodeName", "<none>")]


def _deployment_row(obj):
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return [f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}", status.get("updatedReplicas", 0),
            status.get("availableReplicas", 0)]


def _service_row(obj):
    spec = obj.get("spec") or {}
    ports = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or []) or "<none>"
    ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    external = ",".join(i.get("ip") or i.get("hostname", "") for i in ingress) or "<none>"
    return [spec.get("type", "ClusterIP"), spec.get("clusterIP", "<none>"), external, ports]


def _column(name, kind="string", priority=0, fmt=""):
    return {"name": name, "type": kind, "format": fmt, "description": name, "priority": priority}


AGE = _column("Age")

# Columns after Name, in kubectl's order (AGE where the real server puts it), and the row's cells for
# every column but Name and Age.
TABLE_COLUMNS = {
    "Node": ([_column("Status"), _column("Roles"), AGE, _column("Version"), _column("Internal-IP", priority=1),
              _column("External-IP", priority=1), _column("OS-Image", priority=1),
              _column("Kernel-Version", priority=1), _column("Container-Runtime", priority=1)],
             _node_row),
    "Pod": ([_column("Ready"), _column("Status"), _column("Restarts", "integer"), AGE, _column("IP", priority=1),
             _column("Node", priority=1)], _pod_row),
    "Deployment": ([_column("Ready"), _column("Up-to-date", "integer"), _column("Available", "integer"), AGE],
                   _deployment_row),
    "Service": ([_column("Type"), _column("Cluster-IP"), _column("External-IP"), _column("Port(s)"), AGE],
                _service_row),
    "ConfigMap": ([_column("Data", "integer"), AGE],
                  lambda o: [len(o.get("data") or {}) + len(o.get("binaryData") or {})]),
    "Secret": ([_column("Type"), _column("Data", "integer"), AGE],
               lambda o: [o.get("type", "Opaque"), len(o.get("data") or {})]),
    "Namespace": ([_column("Status"), AGE], lambda o: [(o.get("status") or {}).get("phase", "Active")]),
}


def partial_metadata(obj):
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}


def make_table(kind, objects, list_meta, include, table_version):
    columns, row_fn = TABLE_COLUMNS.get(kind, ([AGE], lambda o: []))
    age_at = columns.index(AGE)
    rows = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        cells = list(row_fn(obj))
        cells.insert(age_at, human_age(meta.get("creationTimestamp")))
        row = {"cells": [meta.get("name", "")] + cells}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = partial_metadata(obj)
        rows.append(row)
    return {"kind": "Table", "apiVersion": f"meta.k8s.io/{table_version}", "metadata": list_meta,
            "columnDefinitions": [_column("Name", fmt="name")] + columns, "rows": rows}


def wanted_form(accept):
    """"table", "metadata" or "json" for the Accept header's first kind we support."""
    for part in (accept or "").split(","):
        params = {p.split("=", 1)[0].strip(): p.split("=", 1)[1].strip() for p in part.split(";")[1:] if "=" in p}
        if params.get("g") == "meta.k8s.io" and params.get("as") == "Table":
            return "table", params.get("v", "v1")
        if params.get("g") == "meta.k8s.io" and params.get("as") in ("PartialObjectMetadata",
                                                                      "PartialObjectMetadataList"):
            return "metadata", params.get("v", "v1")
        media = part.split(";")[0].strip()
        if media in ("application/json", "*/*", "application/*", ""):
            return "json", None
    return "json", None


# --------------------------------------------------------------------------------------------
# HTTP


PATCH_TYPES = {"application/merge-patch+json": "merge", "application/json-patch+json": "json",
               "application/strategic-merge-patch+json": "strategic", "application/apply-patch+yaml": "apply"}
UNSUPPORTED_PATCH = ("the body of the request was in an unknown format - accepted media types include: "
                     "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, "
                     "application/strategic-merge-patch+json")


def truthy(value):
    return value in ("true", "1", "True")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "o2gw-fake-kube-apiserver"
    timeout = 120

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fake-kube: %s - %s\n" % (self.address_string(), fmt % args))

    @property
    def store(self):
        return self.server.store

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass

    # ---- plumbing

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline(1024).split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    raise bad_request("request body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(8)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY_BYTES:
            raise bad_request("bad Content-Length")
        return self.rfile.read(length) if length else b""

    def _send(self, code, payload, content_type="application/json"):
        data = json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send_text(self, code, text):
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _authenticated(self):
        if isinstance(self.connection, ssl.SSLSocket):
            try:
                if self.connection.getpeercert():
                    return True
            except (ValueError, ssl.SSLError):
                pass
        auth = self.headers.get("Authorization", "")
        token = self.store.token
        return bool(token) and auth == f"Bearer {token}"

    def do_GET(self):
        self._handle()

    def do_HEAD(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def do_PUT(self):
        self._handle()

    def do_PATCH(self):
        self._handle()

    def do_DELETE(self):
        self._handle()

    def _handle(self):
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        try:
            body = self._read_body()
        except (ApiError, ValueError) as e:
            self.close_connection = True
            self._send(400, status_object(400, "BadRequest", str(e)))
            return
        if self.server.control and path.startswith("/_fake/"):
            self._control(path, body)
            return
        entry = {"method": self.command, "path": path, "query": url.query,
                 "contentType": self.headers.get("Content-Type", ""), "accept": self.headers.get("Accept", ""),
                 "userAgent": self.headers.get("User-Agent", ""), "port": "control" if self.server.control else "api",
                 "body": body[:REQUEST_BODY_PREVIEW].decode("utf-8", "replace")}
        with self.store.cond:
            self.store.requests += 1
            self.store.request_log.append(entry)
            if len(self.store.request_log) > REQUEST_LOG_SIZE:
                del self.store.request_log[: len(self.store.request_log) - REQUEST_LOG_SIZE]
            hang = self.store.hang_ms
        if not self.server.control:
            if not self._authenticated():
                entry["status"] = 401
                self._send(401, status_object(401, "Unauthorized", "Unauthorized"))
                return
            if hang:
                time.sleep(hang / 1000.0)
        try:
            code = self._route(path, query, body)
            entry["status"] = code
        except ApiError as e:
            entry["status"] = e.code
            self._send(e.code, e.status())
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True
        except Exception as e:  # noqa: BLE001 - a bug here must answer 500, not hang the client
            import traceback
            traceback.print_exc()
            entry["status"] = 500
            self._send(500, status_object(500, "InternalError", f"fake apiserver bug: {e!r}"))

    # ---- control

    def _control(self, path, body):
        store = self.store
        try:
            payload = json.loads(body) if body else {}
        except ValueError:
            self._send(400, {"error": "body must be JSON"})
            return
        try:
            if path == "/_fake/compact" and self.command == "POST":
                self._send(200, {"compactedResourceVersion": str(store.compact())})
            elif path == "/_fake/drop-watches" and self.command == "POST":
                self._send(200, {"dropped": store.drop_watches()})
            elif path == "/_fake/hang" and self.command == "POST":
                with store.cond:
                    store.hang_ms = max(0, int(payload.get("ms", 0)))
                self._send(200, {"ms": store.hang_ms})
            elif path == "/_fake/token" and self.command == "POST":
                with store.cond:
                    store.token = str(payload.get("token", ""))
                self._send(200, {"ok": True})
            elif path == "/_fake/stats" and self.command == "GET":
                with store.cond:
                    stats = {"requests": store.requests, "watchesOpen": store.watches_open,
                             "watchesStarted": store.watches_started, "resourceVersion": str(store.rv),
                             "compactedResourceVersion": str(store.compacted_rv), "historyEvents": len(store.events)}
                self._send(200, stats)
            elif path == "/_fake/bulk" and self.command == "POST":
                self._send(200, store.bulk(payload.get("objects")))
            elif path == "/_fake/requests" and self.command == "GET":
                with store.cond:
                    log = list(store.request_log)
                self._send(200, log)
            else:
                self._send(404, {"error": f"no control endpoint {self.command} {path}"})
        except ApiError as e:
            self._send(e.code, e.status())
        except (TypeError, ValueError, AttributeError) as e:
            self._send(400, {"error": str(e)})

    # ---- API routing

    def _route(self, path, query, body):
        store = self.store
        accept = self.headers.get("Accept", "")
        if path in ("/healthz", "/livez", "/readyz"):
            self._send_text(200, "ok")
            return 200
        if path == "/version":
            self._send(200, KUBE_VERSION)
            return 200
        if path in ("/openapi/v2",):
            raise ApiError(404, "NotFound", "the server could not find the requested resource (OpenAPI v2 is not "
                                            "served by this fake; use /openapi/v3)")
        if path == "/openapi/v3":
            with store.cond:
                self._send(200, openapi_v3_index(store))
            return 200
        if path.startswith("/openapi/v3/"):
            parts = path[len("/openapi/v3/"):].split("/")
            with store.cond:
                gvs = store.group_versions()
                if parts[0] == "api" and len(parts) == 2 and parts[1] in gvs.get("", []):
                    doc = openapi_v3_document(store, "", parts[1])
                elif parts[0] == "apis" and len(parts) == 3 and parts[2] in gvs.get(parts[1], []):
                    doc = openapi_v3_document(store, parts[1], parts[2])
                else:
                    doc = None
            if doc is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            self._send(200, doc)
            return 200
        segments = [s for s in path.split("/") if s]
        if segments == ["api"] or segments == ["apis"]:
            legacy = segments == ["api"]
            if self.server.aggregated_discovery and "as=APIGroupDiscoveryList" in accept and \
                    "v=v2;" in accept.replace(" ", "") + ";":
                with store.cond:
                    doc = aggregated_discovery(store, legacy)
                self._send(200, doc, DISCOVERY_V2)
                return 200
            with store.cond:
                gvs = store.group_versions()
            if legacy:
                port = self.server.server_address[1]
                self._send(200, {"kind": "APIVersions", "versions": gvs.get("", ["v1"]),
                                 "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                                 "serverAddress": f"127.0.0.1:{port}"}]})
            else:
                groups = [api_group(g, vs) for g, vs in sorted(gvs.items()) if g]
                self._send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
            return 200
        if segments[:1] == ["api"] and len(segments) >= 2:
            group, version, rest = "", segments[1], segments[2:]
        elif segments[:1] == ["apis"] and len(segments) >= 2:
            if len(segments) == 2:
                with store.cond:
                    versions = store.group_versions().get(segments[1])
                if not versions:
                    raise ApiError(404, "NotFound", "the server could not find the requested resource")
                self._send(200, dict(api_group(segments[1], versions), kind="APIGroup", apiVersion="v1"))
                return 200
            group, version, rest = segments[1], segments[2], segments[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        with store.cond:
            known = version in store.group_versions().get(group, [])
            doc = api_resource_list(store, group, version) if known and not rest else None
        if not known:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if doc is not None:
            self._send(200, doc)
            return 200
        return self._resource(group, version, rest, query, body)

    def _resource(self, group, version, rest, query, body):
        store = self.store
        watch = truthy(query.get("watch", ""))
        if rest[:1] == ["watch"]:
            watch, rest = True, rest[1:]
        ns = None
        with store.cond:
            if len(rest) >= 3 and rest[0] == "namespaces" and store.type_for(group, version, rest[2]) is not None \
                    and store.type_for(group, version, rest[2]).namespaced:
                ns, rest = rest[1], rest[2:]
            rtype = store.type_for(group, version, rest[0]) if rest else None
        if rtype is None or len(rest) > 3:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) >= 2 else None
        subresource = rest[2] if len(rest) == 3 else None
        if subresource is not None and not ((subresource == "status" and rtype.status_subresource) or
                                            (subresource == "scale" and rtype.scale)):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if subresource == "scale":
            return self._scale(rtype, ns, name, query, body)
        method = self.command
        dry_run = query.get("dryRun") == "All"
        form, table_version = wanted_form(self.headers.get("Accept", ""))

        def reply(code, obj):
            obj = self._as_version(obj, rtype)
            if form == "table" and method == "GET":
                obj = make_table(rtype.kind, [obj], {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                                 query.get("includeObject", "Metadata"), table_version)
            elif form == "metadata" and method == "GET":
                obj = partial_metadata(obj)
            self._send(code, obj)
            return code

        if name is None:
            labels = LabelSelector(query.get("labelSelector"))
            fields = FieldSelector(rtype, query.get("fieldSelector"))
            if method in ("GET", "HEAD"):
                if watch:
                    return self._watch(rtype, ns, labels, fields, query, form, table_version)
                limit = int(query.get("limit") or 0) if (query.get("limit") or "0").isdigit() else 0
                exact_rv = None
                if query.get("resourceVersionMatch") == "Exact":
                    try:
                        exact_rv = int(query.get("resourceVersion", ""))
                    except ValueError:
                        raise bad_request("resourceVersionMatch=Exact needs a resourceVersion") from None
                items, meta = store.list(rtype, ns, labels, fields, limit, query.get("continue"), exact_rv)
                items = [self._as_version(o, rtype) for o in items]
                if form == "table":
                    self._send(200, make_table(rtype.kind, items, meta, query.get("includeObject", "Metadata"),
                                               table_version))
                elif form == "metadata":
                    self._send(200, {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                                     "metadata": meta, "items": [partial_metadata(o) for o in items]})
                else:
                    self._send(200, {"kind": rtype.kind + "List", "apiVersion": rtype.api_version, "metadata": meta,
                                     "items": items})
                return 200
            if method == "POST":
                if rtype.namespaced and ns is None:
                    raise ApiError(405, "MethodNotAllowed", f"the server does not allow this method on the "
                                                            f"requested resource ({rtype.plural})")
                obj = self._decode(body)
                return reply(201, store.create(rtype, ns, obj, dry_run))
            if method == "DELETE":
                deleted = store.delete_collection(rtype, ns, labels, fields, dry_run)
                self._send(200, {"kind": rtype.kind + "List", "apiVersion": rtype.api_version,
                                 "metadata": {"resourceVersion": str(store.rv)},
                                 "items": [self._as_version(o, rtype) for o in deleted]})
                return 200
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if rtype.namespaced and ns is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if method in ("GET", "HEAD"):
            if watch:
                fields = FieldSelector(rtype, "")
                fields.requirements = [("metadata.name", True, name)]
                return self._watch(rtype, ns, LabelSelector(""), fields, query, form, table_version)
            return reply(200, store.get(rtype, ns, name))
        if method == "PUT":
            return reply(200, store.update(rtype, ns, name, self._decode(body), subresource, dry_run))
        if method == "PATCH":
            content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
            patch_type = PATCH_TYPES.get(content_type)
            if patch_type is None:
                raise ApiError(415, "UnsupportedMediaType", UNSUPPORTED_PATCH)
            if patch_type == "strategic" and rtype.custom:
                raise ApiError(415, "UnsupportedMediaType", "strategic merge patch is not supported for custom "
                                                            "resources; use a merge patch or server-side apply")
            if patch_type == "apply":
                manager = query.get("fieldManager", "")
                if not manager:
                    raise invalid("PatchOptions", "meta.k8s.io", "", [
                        ("fieldManager", "FieldValueRequired", "Required value: is required for apply patch")])
                patch = self._decode(body, yaml_ok=True)
                result, created = store.patch(rtype, ns, name, "apply", patch, subresource, dry_run, manager)
                return reply(201 if created else 200, result)
            return reply(200, store.patch(rtype, ns, name, patch_type, self._json(body), subresource, dry_run))
        if method == "DELETE" and subresource is None:
            options = self._decode(body) if body else None
            return reply(200, store.delete(rtype, ns, name, options, dry_run))
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def _scale(self, rtype, ns, name, query, body):
        store = self.store
        dry_run = query.get("dryRun") == "All"
        if self.command in ("GET", "HEAD"):
            self._send(200, store.scale(rtype, ns, name))
        elif self.command == "PUT":
            self._send(200, store.scale(rtype, ns, name, "replace", self._decode(body), dry_run))
        elif self.command == "PATCH":
            content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
            patch_type = PATCH_TYPES.get(content_type)
            if patch_type is None:
                raise ApiError(415, "UnsupportedMediaType", UNSUPPORTED_PATCH)
            patch = self._decode(body, yaml_ok=True) if patch_type == "apply" else self._json(body)
            self._send(200, store.scale(rtype, ns, name, patch_type, patch, dry_run))
        else:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        return 200

    @staticmethod
    def _json(body):
        try:
            return json.loads(body or b"null")
        except ValueError as e:
            raise bad_request(f"the body of the patch is not valid JSON: {e}") from None

    @staticmethod
    def _as_version(obj, rtype):
        if obj.get("apiVersion") != rtype.api_version:
            obj = dict(obj, apiVersion=rtype.api_version)
        return obj

    def _decode(self, body, yaml_ok=False):
        content_type = self.headers.get("Content-Type", "application/json").split(";")[0].strip().lower()
        if content_type == "application/vnd.kubernetes.protobuf":
            try:
                return decode_protobuf(body)
            except (ProtoError, UnicodeDecodeError, KeyError) as e:
                raise ApiError(415, "UnsupportedMediaType", str(e)) from None
        if "protobuf" in content_type or "cbor" in content_type:
            raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
                                                        f"accepted media types include: application/json, "
                                                        f"application/yaml ({content_type} is not supported)")
        text = body.decode("utf-8", "replace")
        try:
            return json.loads(text)
        except ValueError:
            if not (yaml_ok or "yaml" in content_type):
                raise bad_request("the body of the request is not valid JSON") from None
        try:
            return parse_yaml(text)
        except (ValueError, IndexError) as e:  # YamlError, or a bad quoted string inside a flow value
            raise ApiError(415, "UnsupportedMediaType", f"this fake could not parse the YAML body ({e}); send "
                                                        f"JSON, which is valid YAML") from None

    # ---- watch

    def _watch(self, rtype, ns, labels, fields, query, form, table_version):
        store = self.store
        rv_param = query.get("resourceVersion", "")
        bookmarks = truthy(query.get("allowWatchBookmarks", ""))
        send_initial = truthy(query.get("sendInitialEvents", ""))
        if send_initial and (query.get("resourceVersionMatch") != "NotOlderThan" or not bookmarks):
            raise invalid("ListOptions", "meta.k8s.io", "", [
                ("sendInitialEvents", "FieldValueForbidden", "Forbidden: sendInitialEvents is forbidden for watch "
                                                             "unless resourceVersionMatch=NotOlderThan and "
                                                             "allowWatchBookmarks=true")])
        try:
            timeout = float(query.get("timeoutSeconds") or DEFAULT_WATCH_TIMEOUT_S)
        except ValueError:
            raise bad_request("timeoutSeconds must be a number") from None
        if rv_param not in ("", "0"):
            try:
                start_rv = int(rv_param)
            except ValueError:
                raise bad_request(f"invalid resource version: {rv_param!r}") from None
        too_old = None
        with store.cond:
            if send_initial or rv_param in ("", "0"):
                initial = [o for _, o in sorted(store.matching(rtype, ns, labels, fields), key=lambda kv: kv[0])]
                start_rv = store.rv
            else:
                initial = []
                if start_rv < store.compacted_rv:
                    too_old = f"too old resource version: {start_rv} ({store.compacted_rv})"
            drop_generation = store.drop_generation
            store.watches_open += 1
            store.watches_started += 1
        try:
            return self._stream(rtype, ns, labels, fields, form, table_version, bookmarks, send_initial, timeout,
                                initial, start_rv, too_old, drop_generation)
        finally:
            with store.cond:
                store.watches_open -= 1

    def _convert(self, obj, rtype, form, table_version):
        obj = self._as_version(obj, rtype)
        if form == "metadata":
            return partial_metadata(obj)
        if form == "table":
            return make_table(rtype.kind, [obj], {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                              "Metadata", table_version)
        return obj

    def _stream(self, rtype, ns, labels, fields, form, table_version, bookmarks, send_initial, timeout, initial,
                start_rv, too_old, drop_generation):
        store = self.store
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()

        def write(lines):
            if lines:
                data = b"".join(lines)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

        def line(etype, obj):
            return json.dumps({"type": etype, "object": obj}, separators=(",", ":")).encode() + b"\n"

        def bookmark(rv, initial_end=False):
            meta = {"resourceVersion": str(rv)}
            if initial_end:
                meta["annotations"] = {"k8s.io/initial-events-end": "true"}
            return line("BOOKMARK", {"kind": rtype.kind, "apiVersion": rtype.api_version, "metadata": meta})

        def finish():
            self.wfile.write(b"0\r\n\r\n")

        if too_old:
            write([line("ERROR", status_object(410, "Expired", too_old))])
            finish()
            return 200
        for i in range(0, len(initial), 500):
            write([line("ADDED", self._convert(o, rtype, form, table_version)) for o in initial[i:i + 500]])
        if send_initial:
            write([bookmark(start_rv, initial_end=True)])
        plain = form == "json"
        no_selector = labels.empty() and fields.empty()
        last_rv = start_rv
        started = time.monotonic()
        deadline = started + timeout
        interval = store.bookmark_interval
        next_bookmark = started + interval if bookmarks else float("inf")
        next_alive_check = started + 2.0
        while True:
            batch = []
            dropped = lagging = False
            with store.cond:
                while True:
                    if store.drop_generation != drop_generation:
                        dropped = True
                        break
                    if last_rv < store.compacted_rv:
                        lagging = True
                        break
                    if store.rv > last_rv:
                        begin = bisect.bisect_right(store.events, last_rv, key=lambda e: e.rv)
                        batch = store.events[begin:]
                        last_rv = store.rv
                        break
                    now = time.monotonic()
                    wake = min(next_bookmark, deadline, next_alive_check)
                    if now >= wake:
                        break
                    store.cond.wait(wake - now)
            if dropped:
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return 200
            if lagging:
                write([line("ERROR", status_object(410, "Expired", f"too old resource version: {last_rv} "
                                                                   f"({store.compacted_rv})"))])
                finish()
                return 200
            out = []
            for ev in batch:
                if ev.storage != rtype.storage:
                    continue
                if ns and rtype.namespaced and not ev.key.startswith(ns + "/"):
                    continue
                old_obj = None
                if no_selector:
                    new_match = ev.type != "DELETED"
                    old_match = ev.old_data is not None
                else:
                    new_obj = ev.obj if ev.type != "DELETED" else None
                    old_obj = ev.old
                    new_match = new_obj is not None and labels.matches(new_obj) and fields.matches(new_obj)
                    old_match = old_obj is not None and labels.matches(old_obj) and fields.matches(old_obj)
                if ev.type == "ADDED":
                    etype = "ADDED" if new_match else None
                elif ev.type == "DELETED":
                    etype = "DELETED" if old_match else None
                elif new_match:
                    etype = "MODIFIED" if old_match else "ADDED"
                else:
                    etype = "DELETED" if old_match else None
                if etype is None:
                    continue
                if etype == "DELETED" and ev.type == "MODIFIED":
                    # Like the real watch cache: the last state the watcher saw, at the event's version.
                    old_obj = old_obj or ev.old
                    obj = dict(old_obj, metadata=dict(old_obj["metadata"], resourceVersion=str(ev.rv)))
                    out.append(line(etype, self._convert(obj, rtype, form, table_version)))
                elif plain and ev.api_version == rtype.api_version:
                    out.append(b'{"type":"%s","object":%s}\n' % (etype.encode(), ev.data))
                else:
                    out.append(line(etype, self._convert(ev.obj, rtype, form, table_version)))
            now = time.monotonic()
            if now >= next_bookmark:
                out.append(bookmark(last_rv))
                next_bookmark = now + interval
            try:
                write(out)
                if now >= deadline:
                    if bookmarks:
                        write([bookmark(last_rv)])
                    finish()
                    return 200
                if now >= next_alive_check:
                    next_alive_check = now + 2.0
                    if self._client_gone():
                        self.close_connection = True
                        return 200
            except (OSError, ssl.SSLError):
                self.close_connection = True
                return 200

    def _client_gone(self):
        """A watch client sends nothing after its request: anything readable means it closed."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address, store, tls_context, control, verbose):
        super().__init__(address, Handler)
        self.store = store
        self.tls_context = tls_context
        self.control = control
        self.verbose = verbose
        self.aggregated_discovery = True

    def finish_request(self, request, client_address):
        # Headers and body go out in separate writes: without TCP_NODELAY, Nagle and the
        # client's delayed ACK would add 40 ms to every response.
        try:
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        if self.tls_context is None:
            super().finish_request(request, client_address)
            return
        # The handshake runs on the connection's own thread so a stalled client cannot block accept.
        request.settimeout(Handler.timeout)
        try:
            tls = self.tls_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            if self.verbose:
                sys.stderr.write(f"fake-kube: TLS handshake failed: {e}\n")
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        if self.verbose:
            super().handle_error(request, client_address)


# --------------------------------------------------------------------------------------------
# PKI and main


def ensure_pki(directory):
    """Makes a CA, a server certificate (127.0.0.1, localhost) and a client certificate
    (CN=o2gw-test, O=system:masters) with the openssl CLI, unless they exist already."""
    os.makedirs(directory, exist_ok=True)

    def path(name):
        return os.path.join(directory, name)

    def run(*args):
        subprocess.run(["openssl", *args], check=True, cwd=directory, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    if not (os.path.exists(path("ca.pem")) and os.path.exists(path("ca.key"))):
        run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "7", "-subj", "/CN=o2gw-fake-kube-ca",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for name, subject, ext in (
            ("server", "/CN=kube-apiserver",
             "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
             "keyUsage=critical,digitalSignature,keyEncipherment\n"),
            ("client", "/O=system:masters/CN=o2gw-test",
             "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n")):
        if os.path.exists(path(f"{name}.pem")) and os.path.exists(path(f"{name}.key")):
            continue
        with open(path(f"{name}.ext"), "w", encoding="utf-8") as f:
            f.write(ext)
        run("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject)
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "7", "-extfile", f"{name}.ext")


def main(argv=None):
    parser = argparse.ArgumentParser(description="In-memory Kubernetes API server for tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="API (TLS) port; 0 picks a free one")
    parser.add_argument("--control-port", type=int, default=0, help="plain-HTTP control port; 0 picks one")
    parser.add_argument("--pki", required=True, help="directory of ca/server/client certificates (made if missing)")
    parser.add_argument("--token", default="fake-token", help='accepted bearer token ("" accepts none)')
    parser.add_argument("--require-client-cert", action="store_true", help="the TLS handshake demands a certificate")
    parser.add_argument("--with-machine-apis", action="store_true",
                        help="serve machine.openshift.io/v1beta1 and cluster.x-k8s.io/v1beta1 (as CRDs)")
    parser.add_argument("--bookmark-interval-ms", type=int, default=1000)
    parser.add_argument("--history", type=int, default=100000, help="watch events kept before implicit compaction")
    parser.add_argument("--legacy-discovery-only", action="store_true",
                        help="answer /api and /apis in the legacy form even when aggregated discovery is asked for")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)

    try:
        ensure_pki(args.pki)
    except subprocess.CalledProcessError as e:
        sys.stderr.write(f"openssl failed: {e.stderr.decode(errors='replace')}\n")
        return 1
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(os.path.join(args.pki, "server.pem"), os.path.join(args.pki, "server.key"))
    tls.load_verify_locations(os.path.join(args.pki, "ca.pem"))
    tls.verify_mode = ssl.CERT_REQUIRED if args.require_client_cert else ssl.CERT_OPTIONAL
    tls.set_alpn_protocols(["http/1.1"])

    store = Store(args.history, args.bookmark_interval_ms, args.token)
    if args.with_machine_apis:
        crd_type = store.type_for("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        for crd in machine_api_crds():
            store.create(crd_type, None, crd)
    api = FakeServer((args.host, args.port), store, tls, False, args.verbose)
    control = FakeServer((args.host, args.control_port), store, None, True, args.verbose)
    api.aggregated_discovery = control.aggregated_discovery = not args.legacy_discovery_only
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    threading.Thread(target=control.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    print(f"listening api={api.server_address[1]} control={control.server_address[1]}", flush=True)
    try:
        api.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        api.server_close()
        control.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
