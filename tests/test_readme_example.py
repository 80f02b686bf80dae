"""The README's pytest example, run as written (keep the two in step)."""


def test_csv_to_parquet_fails_when_the_job_fails(sfn):
    sfn.mock("CrawlRaw", returns={})
    sfn.mock("RawCrawlerState", returns={"Crawler": {"State": "READY"}})
    sfn.mock("ConvertToParquet", raises=("Glue.ConcurrentRunsExceededException", "busy"))
    ex = sfn.run("definitions/csv_to_parquet.asl.json", {"source": "s3://raw/", "target": "s3://curated/"})
    ex.assert_failed(error="CsvToParquetFailed")
    assert ex.path == ["CrawlRaw", "WaitRaw", "RawCrawlerState", "RawCrawled?", "ConvertToParquet", "ConversionFailed"]
