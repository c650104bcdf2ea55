//! Tasks in Redis (`tasks.backend = "redis"`): for sites without a database
//! to spare, or with very many short tasks. Every step is one Lua script, so
//! it is atomic across workers on any number of machines. One Redis server
//! (not Redis Cluster).
//!
//! Keys, under the prefix (`estate:tasks` by default): `seq` (ids),
//! `task:{id}` (a hash per task), `scheduled:{queue}` (ready tasks by the
//! moment they may run), `due:{queue}` (due tasks by priority, then age)
//! and `running` (running tasks by the end of their lease). Finished tasks
//! are kept for [`FINISHED_TTL`].

use std::collections::HashMap;
use std::time::Duration;

use estate_orm::Auto;
use estate_orm::chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use redis::aio::ConnectionManager;

use super::store::{Claim, EXTRA_CLAIMS_AFTER_CRASHES, Held, StoreResult, TaskStore};
use super::{TaskRecord, TaskStatus};

/// How long a finished task (its result or error) stays readable: 7 days.
pub(crate) const FINISHED_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// How long connecting or one command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

const ENQUEUE: &str = r"
local p = ARGV[1]
local id = redis.call('INCR', p .. ':seq')
redis.call('HSET', p .. ':task:' .. id,
  'name', ARGV[2], 'queue', ARGV[3], 'priority', ARGV[4], 'args', ARGV[5],
  'status', 'ready', 'attempts', 0, 'max_attempts', ARGV[6],
  'run_after', ARGV[7], 'enqueued_at', ARGV[8], 'worker', '', 'error', '')
redis.call('ZADD', p .. ':scheduled:' .. ARGV[3], ARGV[7], id)
return id
";

/// ARGV: prefix, now (ms), lease (ms), worker, extra claims, queues...
/// Returns {'empty'}, {'gave_up'} or {'task', id, field, value, ...}.
const CLAIM: &str = r"
local p, now, lease, worker, extra = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local queues = {}
for i = 6, #ARGV do queues[ARGV[i]] = true end
local function take(id)
  local key = p .. ':task:' .. id
  local attempts = tonumber(redis.call('HGET', key, 'attempts'))
  redis.call('HSET', key, 'status', 'running', 'attempts', attempts + 1,
    'locked_until', now + lease, 'worker', worker, 'started_at', now)
  redis.call('ZADD', p .. ':running', now + lease, id)
  local out = {'task', id}
  for _, v in ipairs(redis.call('HGETALL', key)) do table.insert(out, v) end
  return out
end
-- Running tasks whose lease ended: their worker died.
for _, id in ipairs(redis.call('ZRANGEBYSCORE', p .. ':running', '-inf', now - 1, 'LIMIT', 0, 50)) do
  local key = p .. ':task:' .. id
  local queue = redis.call('HGET', key, 'queue')
  if not queue then
    redis.call('ZREM', p .. ':running', id)
  elseif queues[queue] then
    local attempts = tonumber(redis.call('HGET', key, 'attempts'))
    if attempts >= tonumber(redis.call('HGET', key, 'max_attempts')) + extra then
      redis.call('ZREM', p .. ':running', id)
      redis.call('HSET', key, 'status', 'failed', 'finished_at', now,
        'error', 'given up: its worker stopped responding during ' .. attempts .. ' attempts')
      redis.call('HDEL', key, 'locked_until')
      redis.call('PEXPIRE', key, 604800000)
      return {'gave_up'}
    end
    return take(id)
  end
end
-- Ready tasks whose time has come join their queue's due set.
for queue, _ in pairs(queues) do
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', p .. ':scheduled:' .. queue, '-inf', now, 'LIMIT', 0, 100)) do
    local priority = tonumber(redis.call('HGET', p .. ':task:' .. id, 'priority') or '0')
    redis.call('ZADD', p .. ':due:' .. queue, (100 - priority) * 1e12 + tonumber(id), id)
    redis.call('ZREM', p .. ':scheduled:' .. queue, id)
  end
end
local best, best_queue, best_score = nil, nil, nil
for queue, _ in pairs(queues) do
  local top = redis.call('ZRANGE', p .. ':due:' .. queue, 0, 0, 'WITHSCORES')
  if top[1] and (best_score == nil or tonumber(top[2]) < best_score) then
    best, best_queue, best_score = top[1], queue, tonumber(top[2])
  end
end
if not best then return {'empty'} end
redis.call('ZREM', p .. ':due:' .. best_queue, best)
return take(best)
";

/// The check every change by a worker starts with: the task is still this
/// attempt, running under this worker. ARGV: prefix, id, attempt, worker.
const HELD: &str = r"
local p, id = ARGV[1], ARGV[2]
local key = p .. ':task:' .. id
local state = redis.call('HMGET', key, 'status', 'attempts', 'worker', 'queue')
if state[1] ~= 'running' or state[2] ~= ARGV[3] or state[3] ~= ARGV[4] then return 0 end
local queue = state[4]
";

/// ARGV[5]: the new lease end (ms).
const RENEW: &str = r"
redis.call('HSET', key, 'locked_until', ARGV[5])
redis.call('ZADD', p .. ':running', ARGV[5], id)
return 1
";

/// ARGV[5]: result JSON, ARGV[6]: now, ARGV[7]: ttl (ms).
const SUCCEED: &str = r"
redis.call('HSET', key, 'status', 'successful', 'result', ARGV[5], 'error', '', 'finished_at', ARGV[6])
redis.call('HDEL', key, 'locked_until')
redis.call('ZREM', p .. ':running', id)
redis.call('PEXPIRE', key, ARGV[7])
return 1
";

/// ARGV[5]: run after (ms), ARGV[6]: error.
const RETRY: &str = r"
redis.call('HSET', key, 'status', 'ready', 'run_after', ARGV[5], 'error', ARGV[6])
redis.call('HDEL', key, 'locked_until')
redis.call('ZREM', p .. ':running', id)
redis.call('ZADD', p .. ':scheduled:' .. queue, ARGV[5], id)
return 1
";

/// ARGV[5]: error, ARGV[6]: now, ARGV[7]: ttl (ms).
const FAIL: &str = r"
redis.call('HSET', key, 'status', 'failed', 'error', ARGV[5], 'finished_at', ARGV[6])
redis.call('HDEL', key, 'locked_until')
redis.call('ZREM', p .. ':running', id)
redis.call('PEXPIRE', key, ARGV[7])
return 1
";

/// ARGV[5]: note, ARGV[6]: now.
const PUT_BACK: &str = r"
redis.call('HSET', key, 'status', 'ready', 'attempts', tonumber(ARGV[3]) - 1,
  'error', ARGV[5], 'run_after', ARGV[6])
redis.call('HDEL', key, 'locked_until')
redis.call('ZREM', p .. ':running', id)
redis.call('ZADD', p .. ':scheduled:' .. queue, ARGV[6], id)
return 1
";

/// Ready tasks in every queue (scheduled and due).
const COUNT_READY: &str = r"
local total, cursor = 0, '0'
repeat
  local page = redis.call('SCAN', cursor, 'MATCH', ARGV[1] .. ':*', 'COUNT', 1000)
  cursor = page[1]
  for _, key in ipairs(page[2]) do
    local rest = string.sub(key, #ARGV[1] + 2)
    if string.find(rest, '^scheduled:') or string.find(rest, '^due:') then
      total = total + redis.call('ZCARD', key)
    end
  end
until cursor == '0'
return total
";

/// The queue in Redis.
pub(crate) struct RedisStore {
    connection: ConnectionManager,
    prefix: String,
}

fn millis(moment: DateTime<Utc>) -> i64 {
    moment.timestamp_millis()
}

fn moment(text: Option<&String>) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(text?.parse::<f64>().ok()? as i64)
}

fn failed(err: redis::RedisError) -> crate::Error {
    crate::Error::service_unavailable(format!("the task queue in Redis is unavailable: {err}"))
}

impl RedisStore {
    /// A queue in the Redis at `url` under `prefix`; connects on first use.
    pub(crate) fn new(url: &str, prefix: &str) -> crate::Result<RedisStore> {
        let client = redis::Client::open(url)
            .map_err(|err| crate::Error::msg(format!("tasks.redis_url: {err}")))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1);
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|err| crate::Error::msg(format!("tasks.redis_url: {err}")))?;
        Ok(RedisStore {
            connection,
            prefix: prefix.to_owned(),
        })
    }

    async fn eval<T: redis::FromRedisValue>(
        &self,
        script: &str,
        args: Vec<String>,
    ) -> StoreResult<T> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(script).arg(0).arg(&self.prefix);
        for arg in args {
            cmd.arg(arg);
        }
        let mut connection = self.connection.clone();
        cmd.query_async(&mut connection).await.map_err(failed)
    }

    /// Runs `body` (one of the scripts above) after the [`HELD`] check.
    async fn change(&self, held: Held<'_>, body: &str, extra: Vec<String>) -> StoreResult<bool> {
        let mut args = vec![
            held.id.to_string(),
            held.attempt.to_string(),
            held.worker.to_owned(),
        ];
        args.extend(extra);
        let changed: i64 = self.eval(&format!("{HELD}{body}"), args).await?;
        Ok(changed > 0)
    }
}

/// A task's hash back into a [`TaskRecord`].
fn record(id: i64, fields: &HashMap<String, String>) -> Option<TaskRecord> {
    let text = |name: &str| fields.get(name).cloned().unwrap_or_default();
    let number = |name: &str| {
        fields
            .get(name)
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0, |v| v as i32)
    };
    Some(TaskRecord {
        id: Auto::Set(id),
        name: fields.get("name")?.clone(),
        queue: text("queue"),
        priority: number("priority"),
        args: text("args"),
        status: TaskStatus::parse(&text("status"))?,
        attempts: number("attempts"),
        max_attempts: number("max_attempts"),
        run_after: moment(fields.get("run_after"))?,
        enqueued_at: moment(fields.get("enqueued_at"))?,
        started_at: moment(fields.get("started_at")),
        finished_at: moment(fields.get("finished_at")),
        locked_until: moment(fields.get("locked_until")),
        worker: text("worker"),
        result: fields.get("result").cloned(),
        error: text("error"),
    })
}

fn pairs(flat: &[String]) -> HashMap<String, String> {
    flat.chunks_exact(2)
        .map(|pair| (pair[0].clone(), pair[1].clone()))
        .collect()
}

impl TaskStore for RedisStore {
    fn enqueue(&self, task: TaskRecord) -> BoxFuture<'_, StoreResult<i64>> {
        Box::pin(async move {
            self.eval(
                ENQUEUE,
                vec![
                    task.name,
                    task.queue,
                    task.priority.to_string(),
                    task.args,
                    task.max_attempts.to_string(),
                    millis(task.run_after).to_string(),
                    millis(task.enqueued_at).to_string(),
                ],
            )
            .await
        })
    }

    fn claim<'a>(
        &'a self,
        queues: &'a [String],
        worker: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, StoreResult<Claim>> {
        Box::pin(async move {
            let mut args = vec![
                millis(Utc::now()).to_string(),
                lease.as_millis().to_string(),
                worker.to_owned(),
                EXTRA_CLAIMS_AFTER_CRASHES.to_string(),
            ];
            args.extend(queues.iter().cloned());
            let reply: Vec<String> = self.eval(CLAIM, args).await?;
            match reply.first().map(String::as_str) {
                Some("task") => {
                    let id: i64 = reply[1].parse().map_err(|_| {
                        crate::Error::msg(format!(
                            "the Redis task queue returned a bad id {:?}",
                            reply[1]
                        ))
                    })?;
                    let row = record(id, &pairs(&reply[2..])).ok_or_else(|| {
                        crate::Error::msg(format!("task {id} in Redis is incomplete"))
                    })?;
                    Ok(Claim::Task(Box::new(row)))
                }
                Some("gave_up") => Ok(Claim::GaveUp),
                _ => Ok(Claim::Empty),
            }
        })
    }

    fn renew<'a>(
        &'a self,
        held: Held<'a>,
        until: DateTime<Utc>,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(self.change(held, RENEW, vec![millis(until).to_string()]))
    }

    fn succeed<'a>(&'a self, held: Held<'a>, result: String) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(self.change(
            held,
            SUCCEED,
            vec![
                result,
                millis(Utc::now()).to_string(),
                FINISHED_TTL.as_millis().to_string(),
            ],
        ))
    }

    fn retry<'a>(
        &'a self,
        held: Held<'a>,
        run_after: DateTime<Utc>,
        error: String,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(self.change(held, RETRY, vec![millis(run_after).to_string(), error]))
    }

    fn fail<'a>(&'a self, held: Held<'a>, error: String) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(self.change(
            held,
            FAIL,
            vec![
                error,
                millis(Utc::now()).to_string(),
                FINISHED_TTL.as_millis().to_string(),
            ],
        ))
    }

    fn put_back<'a>(&'a self, held: Held<'a>, note: String) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(self.change(held, PUT_BACK, vec![note, millis(Utc::now()).to_string()]))
    }

    fn get(&self, id: i64) -> BoxFuture<'_, StoreResult<Option<TaskRecord>>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let fields: HashMap<String, String> = redis::cmd("HGETALL")
                .arg(format!("{}:task:{id}", self.prefix))
                .query_async(&mut connection)
                .await
                .map_err(failed)?;
            Ok(record(id, &fields))
        })
    }

    fn counts(&self) -> BoxFuture<'_, StoreResult<Vec<(TaskStatus, i64)>>> {
        Box::pin(async move {
            let ready: i64 = self.eval(COUNT_READY, Vec::new()).await?;
            let mut connection = self.connection.clone();
            let running: i64 = redis::cmd("ZCARD")
                .arg(format!("{}:running", self.prefix))
                .query_async(&mut connection)
                .await
                .map_err(failed)?;
            Ok(vec![
                (TaskStatus::Ready, ready),
                (TaskStatus::Running, running),
            ])
        })
    }

    fn name(&self) -> &'static str {
        "redis"
    }
}
