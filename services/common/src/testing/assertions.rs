//! What every service's tests assert the same way: health, problems, outages, the routes table.

/// The fields a problem document names in its `errors`, in order.
pub fn problem_fields(problem: &serde_json::Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts what every service serves at `base` (`http://127.0.0.1:<port>`): `/healthz`;
/// `/readyz` ready with exactly the named checks passing, then the `shutdown` check every
/// server adds (it fails while the server drains); an unknown path as a 404 problem with
/// the request id; a method a path does not serve as a 405 problem with `Allow`; and
/// `/metrics` counting answered requests under the service's name, and saying it is ready
/// with each named check's dependency up.
pub async fn assert_serves_health(
    base: &str,
    service: &str,
    checks: &[&str],
) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{base}{path}")).send();

    anyhow::ensure!(
        get("/healthz").await?.status() == 200,
        "/healthz is not 200"
    );
    let ready = get("/readyz").await?;
    anyhow::ensure!(ready.status() == 200, "/readyz is {}", ready.status());
    let ready: serde_json::Value = ready.json().await?;
    let reported: Vec<(&str, bool)> = ready["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| (c["name"].as_str().unwrap_or(""), c["ok"] == true))
        .collect();
    let expected: Vec<(&str, bool)> = checks
        .iter()
        .chain(&["shutdown"])
        .map(|name| (*name, true))
        .collect();
    anyhow::ensure!(
        reported == expected,
        "readiness checks {reported:?}, expected {expected:?}"
    );

    let unknown = get("/api/v1/nothing-here").await?;
    anyhow::ensure!(
        unknown.status() == 404,
        "an unknown path is {}",
        unknown.status()
    );
    anyhow::ensure!(unknown.headers()["content-type"] == crate::problem::PROBLEM_JSON);
    let request_id = unknown.headers()["x-request-id"].to_str()?.to_owned();
    let problem: crate::problem::Problem = unknown.json().await?;
    anyhow::ensure!(problem.request_id.as_deref() == Some(request_id.as_str()));

    // A method a path does not serve is a 405 problem that says which it does.
    let wrong_method = http.delete(format!("{base}/healthz")).send().await?;
    anyhow::ensure!(
        wrong_method.status() == 405,
        "DELETE /healthz is {}",
        wrong_method.status()
    );
    anyhow::ensure!(
        wrong_method
            .headers()
            .get("allow")
            .is_some_and(|allow| allow == "GET, HEAD"),
        "a 405 without the right Allow: {:?}",
        wrong_method.headers()
    );
    anyhow::ensure!(wrong_method.headers()["content-type"] == crate::problem::PROBLEM_JSON);

    let metrics = get("/metrics").await?.text().await?;
    let counted = metrics.lines().any(|line| {
        line.starts_with("eventpost_http_requests_total")
            && line.contains("route=\"/healthz\"")
            && line.contains(&format!("service=\"{service}\""))
    });
    anyhow::ensure!(
        counted,
        "/metrics does not count /healthz for {service}:\n{metrics}"
    );
    let ready = format!("eventpost_ready{{service=\"{service}\"}} 1");
    anyhow::ensure!(
        metrics.lines().any(|line| line == ready),
        "/metrics does not say {service} is ready:\n{metrics}"
    );
    for check in checks.iter().chain(&["shutdown"]) {
        let up =
            format!("eventpost_dependency_up{{dependency=\"{check}\",service=\"{service}\"}} 1");
        anyhow::ensure!(
            metrics.lines().any(|line| line == up),
            "/metrics does not say {check} is up for {service}:\n{metrics}"
        );
    }
    Ok(())
}

/// Asserts `response` is the answer to a request made while the database did not answer: a 503
/// problem that names the database, with the request id.
pub async fn assert_database_unavailable(response: reqwest::Response) -> anyhow::Result<()> {
    let status = response.status();
    let content_type = response.headers().get("content-type").cloned();
    let body = response.text().await?;
    anyhow::ensure!(status == 503, "answered {status}: {body}");
    anyhow::ensure!(
        content_type.is_some_and(|c| c == crate::problem::PROBLEM_JSON),
        "not problem+json: {body}"
    );
    let problem: crate::problem::Problem = serde_json::from_str(&body)?;
    anyhow::ensure!(
        problem.detail.contains("database") && problem.request_id.is_some(),
        "the problem does not name the database: {body}"
    );
    Ok(())
}

/// Asserts that the service at `base` (named `service` in `common::routes`) documents exactly
/// the operations the routes table gives it, each secured as the table says: a bearer token on
/// every operation but the public ones.
pub async fn assert_routes_match_the_table(base: &str, service: &str) -> anyhow::Result<()> {
    let doc: serde_json::Value = reqwest::get(format!("{base}/openapi.json"))
        .await?
        .json()
        .await?;
    let mut documented = Vec::new();
    for (path, operations) in doc["paths"].as_object().into_iter().flatten() {
        for (method, operation) in operations.as_object().into_iter().flatten() {
            let declared = crate::routes::declared(method, path)
                .ok_or_else(|| anyhow::anyhow!("{method} {path} is not in common::routes"))?;
            let secured = operation["security"]
                .as_array()
                .is_some_and(|schemes| !schemes.is_empty());
            anyhow::ensure!(
                secured == (declared.access != crate::routes::Access::Public),
                "{method} {path}: secured {secured}, but the table says {:?}",
                declared.access
            );
            documented.push(declared);
        }
    }
    for expected in crate::routes::OPERATIONS
        .iter()
        .filter(|op| op.service == service)
    {
        anyhow::ensure!(
            documented.contains(&expected),
            "{} {} is in the table but not in {service}'s document, which has {}: {:?}",
            expected.method,
            expected.path,
            expected.path,
            doc["paths"][expected.path]
                .as_object()
                .map(|o| o.keys().collect::<Vec<_>>()),
        );
    }
    Ok(())
}

/// Asserts that the document of the service at `base` lets every optional field be `null`: an
/// `Option` field is written as `null` when empty and read as empty from `null`, so a client
/// generated from a document that did not say so breaks on the first one. Fields with a default
/// (absent means the default) and the problem document (which omits what it lacks) are exempt.
pub async fn assert_optional_fields_are_nullable(base: &str) -> anyhow::Result<()> {
    let doc: serde_json::Value = reqwest::get(format!("{base}/openapi.json"))
        .await?
        .json()
        .await?;
    let mut not_nullable = Vec::new();
    for (name, schema) in doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
    {
        if name == "Problem" {
            continue;
        }
        let required: Vec<&str> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(serde_json::Value::as_str)
            .collect();
        for (field, property) in schema["properties"].as_object().into_iter().flatten() {
            let optional = !required.contains(&field.as_str()) && property.get("default").is_none();
            if optional && property["nullable"] != true {
                not_nullable.push(format!("{name}.{field}"));
            }
        }
    }
    anyhow::ensure!(
        not_nullable.is_empty(),
        "optional but not nullable: {not_nullable:?}"
    );
    Ok(())
}

/// Checks that `value` comes out of [`crate::json::JsonOut`] (serde) exactly as poem-openapi's
/// `Json` would write it (its `Object` derive), so the document and the body cannot drift.
pub fn assert_written_as_documented<T>(value: &T) -> anyhow::Result<()>
where
    T: serde::Serialize + poem_openapi::types::ToJSON,
{
    let ours = serde_json::to_value(value)?;
    let documented = value.to_json();
    anyhow::ensure!(
        documented.as_ref() == Some(&ours),
        "serde writes {ours}, the OpenAPI derive {documented:?}"
    );
    Ok(())
}
