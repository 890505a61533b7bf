package main

import (
	"fmt"
	"strings"

	"github.com/blueox/ox/internal/cli"
)

// The statements --ddl prints, one per engine, for the layout export writes
// (docs/oxstore.md). Each declares the document's top-level keys with fixed
// types, body as JSON text (engines read an object into a string column as
// its JSON; functions such as json_extract_scalar then reach inside), and
// type, date and hour as partition columns. The event's own "type" key equals
// the type partition, so it is read from the partition.

// ddlEngines are the engines --ddl knows, in the order the help lists them.
var ddlEngines = []string{"athena", "trino", "spark", "clickhouse", "duckdb"}

// ddl returns the statement that makes d queryable by engine.
func ddl(engine string, d destination) (string, error) {
	loc := d.location()
	switch engine {
	case "athena":
		if !d.s3() {
			return "", cli.Usagef("--ddl athena needs --to s3://bucket/prefix")
		}
		return fmt.Sprintf(athenaDDL, loc, strings.TrimSuffix(loc, "/")), nil
	case "trino":
		return fmt.Sprintf(trinoDDL, trinoLocation(d)), nil
	case "spark":
		return fmt.Sprintf(sparkDDL, sparkLocation(d)), nil
	case "clickhouse":
		if d.s3() {
			return fmt.Sprintf(clickhouseS3DDL, clickhouseURL(d)), nil
		}
		return fmt.Sprintf(clickhouseFileDDL, strings.TrimSuffix(loc, "/")), nil
	case "duckdb":
		return fmt.Sprintf(duckdbDDL, sqlString(loc+"type=*/date=*/hour=*/*.json.gz")), nil
	}
	return "", cli.Usagef("--ddl %q: want one of %s", engine, strings.Join(ddlEngines, ", "))
}

// sqlString quotes s as an SQL string literal.
func sqlString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// Athena: the OpenX JSON SerDe maps @timestamp to a column named ts (Athena
// column names are letters, digits and underscores), and partition projection
// finds the partitions without MSCK REPAIR TABLE. The type partition is
// injected: queries name the type(s) they read in WHERE.
const athenaDDL = `CREATE EXTERNAL TABLE blueox (
  ts string,
  duration double,
  id string,
  host string,
  pid bigint,
  ` + "`start`" + ` double,
  ` + "`end`" + ` double,
  body string
)
PARTITIONED BY (type string, ` + "`date`" + ` string, ` + "`hour`" + ` string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES ('mapping.ts' = '@timestamp')
LOCATION '%s'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.type.type' = 'injected',
  'projection.date.type' = 'date',
  'projection.date.format' = 'yyyy-MM-dd',
  'projection.date.range' = '2000-01-01,NOW',
  'projection.date.interval' = '1',
  'projection.date.interval.unit' = 'DAYS',
  'projection.hour.type' = 'integer',
  'projection.hour.range' = '0,23',
  'projection.hour.digits' = '2',
  'storage.location.template' = '%s/type=${type}/date=${date}/hour=${hour}/'
);
`

// Trino, Hive connector: the OPENX_JSON format reads an object into a
// varchar column as its JSON; partition columns come last, as varchar, and
// sync_partition_metadata registers the folders found.
const trinoDDL = `CREATE TABLE hive.default.blueox (
  "@timestamp" varchar,
  duration double,
  id varchar,
  host varchar,
  pid bigint,
  start double,
  "end" double,
  body varchar,
  type varchar,
  "date" varchar,
  "hour" varchar
)
WITH (
  format = 'OPENX_JSON',
  external_location = '%s',
  partitioned_by = ARRAY['type', 'date', 'hour']
);
CALL hive.system.sync_partition_metadata('default', 'blueox', 'FULL');
`

func trinoLocation(d destination) string {
	if d.s3() {
		return strings.TrimSuffix(d.location(), "/")
	}
	return "file://" + strings.TrimSuffix(d.location(), "/")
}

// Spark SQL: the JSON source reads an object into a STRING column as its
// JSON; MSCK REPAIR TABLE registers the partition folders. Hadoop's S3
// connector is s3a://.
const sparkDDL = "CREATE TABLE blueox (\n" +
	"  `@timestamp` STRING,\n" +
	"  duration DOUBLE,\n" +
	"  id STRING,\n" +
	"  host STRING,\n" +
	"  pid BIGINT,\n" +
	"  `start` DOUBLE,\n" +
	"  `end` DOUBLE,\n" +
	"  body STRING,\n" +
	"  type STRING,\n" +
	"  `date` STRING,\n" +
	"  `hour` STRING\n" +
	")\n" +
	"USING json\n" +
	"PARTITIONED BY (type, `date`, `hour`)\n" +
	"LOCATION '%s';\n" +
	"MSCK REPAIR TABLE blueox;\n"

func sparkLocation(d destination) string {
	if d.s3() {
		return "s3a://" + strings.TrimPrefix(strings.TrimSuffix(d.location(), "/"), "s3://")
	}
	return "file://" + strings.TrimSuffix(d.location(), "/")
}

// ClickHouse: the s3 (or file) table function with use_hive_partitioning,
// which makes type, date and hour columns from the path; body is read as the
// JSON text of the object.
const clickhouseS3DDL = `CREATE VIEW blueox AS
SELECT *
FROM s3('%s/type=*/date=*/hour=*/*.json.gz', 'JSONEachRow',
  '` + "`@timestamp`" + ` String, duration Float64, id String, host String, pid Int64, start Float64, ` + "`end`" + ` Float64, body String',
  'gzip')
SETTINGS use_hive_partitioning = 1, input_format_json_read_objects_as_strings = 1;
`

// A local export is read with file(), whose path is relative to (and must be
// inside) the server's user_files_path.
const clickhouseFileDDL = `CREATE VIEW blueox AS
SELECT *
FROM file('%s/type=*/date=*/hour=*/*.json.gz', 'JSONEachRow',
  '` + "`@timestamp`" + ` String, duration Float64, id String, host String, pid Int64, start Float64, ` + "`end`" + ` Float64, body String',
  'gzip')
SETTINGS use_hive_partitioning = 1, input_format_json_read_objects_as_strings = 1;
`

// clickhouseURL is the bucket's virtual-hosted URL with the prefix; another
// region or an S3-compatible store needs its own endpoint here.
func clickhouseURL(d destination) string {
	u := "https://" + d.bucket + ".s3.amazonaws.com"
	if d.prefix != "" {
		u += "/" + d.prefix
	}
	return u
}

// DuckDB: read_json over the partition folders; body is the JSON type, read
// with ->> or json_extract_string. (An s3:// location needs the httpfs
// extension and credentials: CREATE SECRET (TYPE s3, PROVIDER credential_chain).)
const duckdbDDL = `CREATE OR REPLACE VIEW blueox AS
SELECT *
FROM read_json(%s,
  format = 'newline_delimited',
  compression = 'gzip',
  hive_partitioning = true,
  hive_types = {'type': VARCHAR, 'date': DATE, 'hour': INTEGER},
  columns = {'@timestamp': 'TIMESTAMP', 'duration': 'DOUBLE', 'id': 'VARCHAR', 'host': 'VARCHAR',
             'pid': 'BIGINT', 'start': 'DOUBLE', 'end': 'DOUBLE', 'body': 'JSON'});
`
